// Package bench measures OppSync end to end on the real local stack (Temporal dev server,
// versitygw as S3, local-kms, the fake STS, Toxiproxy for latency) the way operators run
// it, and compares it with the sequential reader of AWS's sample
// (aws-samples/partner-crm-integration-samples). Everything lives in the _test.go files.
//
//	make bench           everything below but the gap benchmark, then one markdown summary
//	make bench-outbound  BenchmarkOutbound: the headline (FILES=200 RECORDS=10)
//	make bench-memory    BenchmarkMemory: worker peak RSS on 200 files of ~10 MiB (RSS_LIMIT_MB)
//	make bench-scale     BenchmarkScale: CUSTOMERS idle customers on one worker (POLL)
//	make bench-gap       BenchmarkOutboundGap: where the time goes, variant by variant
//	make bench-api       BenchmarkSellingAPI: the Selling API transport each way (API_RECORDS, API_CREATES)
//
// # What runs
//
// BenchmarkOutbound starts the worker binary (built from this checkout as `make build`
// builds it) with the environment `devstack up` writes to stack.env, enrolls a customer with
// `starter enroll` and times `starter sync-now --wait` on a backlog of FILES files ×
// RECORDS records; then the sequential loop runs the same backlog in a fresh bucket on the
// same stack. S3 requests are counted by a small reverse proxy in front of S3 (or in front
// of Toxiproxy's 20 ms each way), which both the worker and the loop go through. Everything
// else is read from the workflow history by event type, never by activity name, so the
// figures hold for today's one activity per file and for a batch or local activity alike:
// history events per file, activities by type, queue waits, workflow-task time, and the
// Temporal Cloud actions of a stretch of history (countActions documents the counting
// against docs.temporal.io/cloud/actions: timers, activity starts and retries, one per
// workflow task with local activities, signals, updates, search-attribute upserts but
// TemporalChangeVersion's; heartbeats and queries are not in history). On loopback it also
// enrolls two idle customers at the shortest poll interval, one with --spms-id (inbound on),
// and reports the events and actions of their timer-driven cycles.
//
// The stack's state and the CRMs live under .dev/bench/ (or $OPPSYNC_BENCH_DIR), as `make
// demo` and `devstack up --dir .dev` keep theirs, not in /tmp: see below.
//
// # Where the 3× between `make bench` and the binaries came from (issue 9)
//
// Issue 9 measured 7.4–7.8 s for 200 × 10 with the binaries on `devstack up`, and 2.6 s with
// the old in-process benchmark. BenchmarkOutboundGap runs the same backlog in each variant,
// interleaved, on one machine (2 cores, shared: load average 8–15 during the runs, so the
// absolute times are inflated and only the ratios mean something; fastest of 2 rounds):
//
//	variant                                                     fastest  mean activity  CPU s (temporal / worker)
//	in-process worker, no encryption, Go client update           7.24 s     199 ms          3.24 / ~2.8
//	worker binary, no encryption, Go client update               7.49 s     215 ms          3.01 / 2.72
//	worker binary, encryption (KMS codec), Go client update      7.19 s     197 ms          3.18 / 2.96
//	worker binary, encryption, --log-level warn                   8.30 s     236 ms          3.69 / 3.35
//	worker binary + starter sync-now --wait (as operators)       8.30 s     233 ms          3.53 / 3.13
//	the same, dev server on SQLite's default journal (before)   12.73 s     234 ms          3.96 / 2.97
//	in-process (the old bench), SQLite's default journal          9.63 s     192 ms          3.98 / ~2.8
//	in-process (the old bench), default journal, on tmpfs         6.24 s     161 ms          2.84 / ~2.4
//	worker binary + starter, default journal, on tmpfs            5.87 s     132 ms          2.38 / 2.16
//
// (In-process, the worker's CPU is the benchmark process's minus the S3 counting proxy.)
//
//   - The binary is not slower than the in-process worker. On the same stack the two are
//     within the run-to-run noise (±15%) with encryption on or off, at info or warn logging,
//     and triggered by the starter or by a Go client; the starter's own cost (a process
//     start, two dials, a KMS GenerateDataKey) is tens of milliseconds per call. The
//     payload codec holds one data key and costs microseconds per payload; the worker's
//     options (8 activity and 4 workflow pollers) are the ones the in-process worker used.
//   - The storage under the Temporal dev server is. Each file costs the dev server about
//     ten persisted writes (the workflow task that schedules the activity, the activity's
//     first heartbeat, which the SDK sends synchronously, its completion, the next workflow
//     task...), and `temporal server start-dev --db-filename` opens SQLite with its defaults:
//     a rollback journal and synchronous=FULL, two to three fsyncs per write, one writer at
//     a time. The old benchmark kept its stack in b.TempDir(); where /tmp is a tmpfs, as on
//     many Linux machines, those fsyncs cost nothing, while `devstack up --dir .dev` keeps
//     temporal.db on the disk. On this machine (/tmp on ext4) the same binaries take 5.9 s
//     on tmpfs and 12.7 s on disk with the default journal: the 2× of the 2.6 s vs
//     7.4 s, the rest being that machine's disk. It also explains why the binaries' cycle
//     barely moved with 20 ms in front of S3 (7.4 → 7.8 s): the serial path was the dev
//     server's disk, not S3.
//   - The fix, for operators too: devstack now starts the dev server with
//     --sqlite-pragma journal_mode=WAL --sqlite-pragma synchronous=NORMAL
//     (devstack.DefaultTemporalPragmas): one sequential append per write, synced at
//     checkpoints; committed writes survive a crash of the server, only a power loss may
//     lose the last ones, which a local stack can afford. On disk that took the same cycle
//     from 12.7 s to 8.3 s here (11.3 → 5.6 s in a quieter run), close to tmpfs. And the
//     benchmark now keeps its stack under .dev/bench, so it pays what `devstack up` pays.
//   - What remains is CPU and round trips per file: about 15 ms of dev-server CPU and
//     15 ms of worker CPU per file (SDK task handling, gRPC, history), a synchronous
//     heartbeat RPC per activity, and a workflow task between an activity's end and the
//     next one's start. On 2 cores that puts a per-file activity at ~0.2–0.4× the
//     sequential loop on loopback however it is run; one activity per batch of files
//     (issue 9) removes most of it.
//
// # Memory
//
// BenchmarkMemory puts 200 files of 9.9 MiB (ACE's largest outbound file as OppSync takes
// it, ace.MaxOutboundFileBytes) into a bucket and runs `starter sync-now --wait` until the
// worker binary has drained them, sampling its VmRSS every 50 ms and reading VmHWM; a peak
// over OPPSYNC_BENCH_RSS_LIMIT_MB (default 1024, the Kubernetes manifest's limit) fails it.
// With one activity per file and 8 files at once, the peak was about 470 MB (4 files at
// once: 213 MB): some 50 MB per 10 MiB file in flight (the body, the parsed records with
// their raw JSON, the CRM write) over a 45 MB base. A batch activity must bound its
// parallel GETs by bytes, not only by count: 32 such files at once would be 1.6 GB. The
// backlog also showed the SQLite CRM refusing writes when 8 activities each commit 10 MiB
// at once on a loaded machine ("database is locked" after its 10 s busy timeout, and
// start-to-close timeouts): the benchmark runs further cycles until the backlog is drained
// and reports the cycles that left files behind; one batch in flight per customer removes
// the contention.
//
// # Selling API
//
// BenchmarkSellingAPI drives the Partner Central Selling API transport through the worker
// and starter binaries against the local stack's contract server (devstack/sellingcontract),
// whose quotas are those of a partner account: 10 reads and 1 write a second. ACE → CRM
// seeds API_RECORDS opportunities on AWS's side of the server (created, submitted and
// approved in the partner's Sandbox catalog, with the quotas lifted while seeding), enrolls a
// customer with `starter enroll --transport api` and times `starter sync-now --wait` until
// its SQLite CRM holds them all. CRM → ACE creates API_CREATES opportunities in a second
// customer's CRM as the sales team does (AWS's sample record: one solution, two AWS
// products, submitted to AWS, so five writes each) and times `sync-now --wait` until each
// was created on the server and is accepted in the CRM; then it checks that the server holds
// each once. Calls per operation come from the server's Calls, which counts refused calls
// too; a reverse proxy in front of the server counts those it refused with
// ThrottlingException, so the quota bound beside each rate is computed from the calls that
// did work: reads per record ÷ 10/s, writes per record ÷ 1/s. The same run with the quotas
// lifted to 1,000/s, on the server and in the worker (--selling-reads-per-second,
// --selling-writes-per-second), shows what the implementation itself costs. Each customer's
// role is in its own partner account, so the directions do not share quotas.
//
// # Scale
//
// BenchmarkScale enrolls CUSTOMERS idle customers (Go client, the same update-with-start as
// `starter enroll`, 32 at once) onto one worker binary and measures its RSS, its CPU while
// the fleet idle-polls, the dev server's CPU, and how late cycles start (timer due → the
// first workflow task after the timer completed, by event type only). Its figures are only
// as good as the 2-core machine's dev server. On the shared machine (load 11–17),
// 1,000 customers × 30 s (33 cycles/s) enrolled at 4 customers/s (22/s when the machine was
// quiet), the worker held 136 MB (97 KB per customer, all in the sticky cache) at 19% of
// a core while the dev server took 67%, and cycles started 2.4 s late at p50, 106 s at p99,
// while timers fired on time (p99 146 ms): workflow tasks queued, i.e. the machine (two
// cores for the dev server, the worker and everyone else's builds), not the worker's
// memory, was the limit. `make bench-scale CUSTOMERS=10000 POLL=2m` (83 cycles/s) enrolled
// 1,158 customers in 5 minutes there (worker RSS 132 MB) before it was stopped: enrolling
// 10,000 would take 45 minutes at that rate, 8 when quiet. From 97 KB per customer, 10,000
// would be about 1 GB of RSS with the default sticky cache of 10,000 workflows; set
// --workflow-cache-size (e.g. 2000) to stay well under it. At the default 10-minute poll,
// 10,000 customers are 17 cycles/s, half the rate the dev server already struggles with
// here at 1,000 × 30 s.
package bench
