package ace

// Merged is the result of merging the records of several outbound files.
type Merged struct {
	// Records holds one record per (object, ACE id): the newest. Their order is the order
	// in which each record first appeared, so a CRM's writes follow the files' order.
	Records []Record
	// Superseded counts records dropped because a newer (or equally new, later) copy of the
	// same record was in the batch. Same counts those identical to the copy kept.
	Superseded, Same int
	// From maps (object, ACE id) of each kept record to the index of its file in the input.
	From map[RecordKey]int
}

// RecordKey identifies one ACE record.
type RecordKey struct {
	Object Object
	ACEID  string
}

// Key returns the record's identity.
func (r Record) Key() RecordKey { return RecordKey{r.Object, r.ACEID} }

// Merge merges the records of files, given in listing order (ACE names outbound files by
// export time, so key order is the order ACE wrote them), so that each (object, ACE id) is
// written once per batch with its newest data:
//
//   - the copy with the latest lastModifiedDate wins;
//   - a copy without lastModifiedDate loses to one with it (the CRM connectors treat it as
//     older, too);
//   - on a tie (the same lastModifiedDate, or none on both) the copy that comes later wins:
//     from the later file in listing order, or later in the same file. ACE writes a record
//     again only to change it, and a later export cannot predate an earlier one.
//
// Each kept record's File is set to its file's key. Files may be nil (unreadable files).
func Merge(files []*OutboundFile) Merged {
	m := Merged{From: map[RecordKey]int{}}
	at := map[RecordKey]int{} // index into m.Records
	for fi, f := range files {
		if f == nil {
			continue
		}
		for _, r := range f.Records {
			r.File = f.Key
			k := r.Key()
			i, dup := at[k]
			if !dup {
				at[k] = len(m.Records)
				m.Records = append(m.Records, r)
				m.From[k] = fi
				continue
			}
			prev := m.Records[i]
			if newer(prev, r) {
				// prev is kept; r is older
				m.Superseded++
				continue
			}
			if prev.LastModified.Equal(r.LastModified) && string(prev.Raw) == string(r.Raw) {
				m.Same++
			} else {
				m.Superseded++
			}
			m.Records[i] = r
			m.From[k] = fi
		}
	}
	return m
}

// newer reports whether a is strictly newer than b (b comes later in listing order, so
// b wins ties).
func newer(a, b Record) bool {
	switch {
	case a.LastModified.IsZero():
		return false
	case b.LastModified.IsZero():
		return true
	}
	return a.LastModified.After(b.LastModified)
}
