package job

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"
	"time"
)

// ErrLocked is the error of opening a Log that another process holds.
var ErrLocked = errors.New("another process is writing this file (is the same job, or shard, running twice?)")

// DefaultSyncEvery is how often a Log is fsync'd unless told otherwise.
const DefaultSyncEvery = 2 * time.Second

// A Log is an append-only file of whole records, each one write(2), that a
// job's rows are written to as they finish; see the package documentation.
// It is safe for concurrent use.
type Log struct {
	// Truncated is the number of bytes of torn tail cut when the log was
	// opened; Dups the number of ids it held more than once.
	Truncated int64
	Dups      int
	// SyncEvery is how often appended records are fsync'd (default
	// DefaultSyncEvery); Close always syncs. Set it before appending.
	SyncEvery time.Duration

	path    string
	records bool // framed records, not JSON lines

	mu       sync.Mutex
	f        *os.File
	size     int64
	lastSync time.Time
	dirty    bool
	err      error
	done     map[string]bool
	entries  []Entry // records only
	buf      []byte
}

// Entry is one record of a framed Log.
type Entry struct {
	ID  json.RawMessage
	Key string
	// Off and Len locate the record's payload in the file.
	Off, Len int64
}

// OpenLines opens (or creates) a JSONL log: each record is one JSON object
// with an "id" on one line. It cuts a torn tail: a last line without a
// newline, or trailing lines that are not JSON rows with an id (the NULs a
// crashed file system can leave). A bad line followed by good ones is not a
// tail but damage, and an error.
func OpenLines(path string) (*Log, error) {
	l, err := openLog(path, false)
	if err != nil {
		return nil, err
	}
	if err := l.scanLines(); err != nil {
		l.f.Close()
		return nil, err
	}
	return l, nil
}

func openLog(path string, records bool) (*Log, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &Log{path: path, records: records, f: f, done: map[string]bool{}, SyncEvery: DefaultSyncEvery, lastSync: time.Now()}, nil
}

func (l *Log) scanLines() error {
	r := bufio.NewReaderSize(l.f, 1<<20)
	var off, keep int64 // keep: the end of the last good line
	badLine := 0        // the first bad line after keep, if any
	for line := 1; ; line++ {
		b, err := r.ReadBytes('\n')
		if len(b) == 0 && err == io.EOF {
			break
		}
		if err != nil && err != io.EOF {
			return err
		}
		off += int64(len(b))
		if err == io.EOF {
			break // no newline: torn
		}
		key, _, kerr := RowID(b)
		if kerr != nil {
			if !IsBlank(b) && badLine == 0 {
				badLine = line
			}
			continue
		}
		if badLine != 0 {
			return fmt.Errorf("%s: line %d is not a JSON row with an id, but rows follow it: the file is damaged; move it away or remove that line", l.path, badLine)
		}
		l.add(key)
		keep = off
	}
	return l.cut(off, keep)
}

func (l *Log) add(key string) {
	if l.done[key] {
		l.Dups++
	}
	l.done[key] = true
}

// cut truncates the file at keep, of size bytes, and positions it there.
func (l *Log) cut(size, keep int64) error {
	if size > keep {
		if err := l.f.Truncate(keep); err != nil {
			return err
		}
		l.Truncated = size - keep
	}
	if _, err := l.f.Seek(keep, io.SeekStart); err != nil {
		return err
	}
	l.size = keep
	return nil
}

// Framed records: the file starts with recordsMagic, then records, each
//
//	"LLRC" crc32c(id, payload) len(id) len(payload) id payload
//
// with little-endian uint32, uint32 and uint64 lengths. The first record
// has an empty id and holds the log's metadata: the settings of the job
// that writes it, which a resumed run must match.
const (
	recordsMagic = "LOCALLM-PARTS 1\n"
	recordMagic  = "LLRC"
	recordHeader = 20
	maxIDLen     = 1 << 16
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrMeta wraps the error of a framed log written by a job with other
// settings.
var ErrMeta = errors.New("written with other settings")

// OpenRecords opens (or creates) a framed log whose metadata is meta (the
// job's settings, compared byte for byte with an existing log's). It cuts
// everything from the first record that is incomplete or fails its
// checksum: such a tail is what a killed or crashed writer leaves, and the
// rows it held are run again.
func OpenRecords(path string, meta []byte) (*Log, error) {
	l, err := openLog(path, true)
	if err != nil {
		return nil, err
	}
	if err := l.scanRecords(meta); err != nil {
		l.f.Close()
		return nil, err
	}
	return l, nil
}

func (l *Log) scanRecords(meta []byte) error {
	st, err := l.f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	r := bufio.NewReaderSize(l.f, 1<<20)
	head := make([]byte, len(recordsMagic))
	if _, err := io.ReadFull(r, head); err != nil || size == 0 {
		return l.start(size, meta) // new, or torn before its first record
	}
	if string(head) != recordsMagic {
		return fmt.Errorf("%s is not a locallm parts file: move it away", l.path)
	}
	off := int64(len(recordsMagic))
	keep := int64(-1) // the end of the last good record; -1: no metadata yet
	for {
		id, payload, n, err := readRecord(r, off)
		if err != nil {
			break // torn or corrupt: cut here
		}
		if keep < 0 {
			if len(id) != 0 {
				break
			}
			if !bytes.Equal(payload, meta) {
				return fmt.Errorf("%s: %w (%s; this run: %s): move it away or use another output", l.path, ErrMeta, payload, meta)
			}
		} else {
			key, err := IDKey(id)
			if err != nil {
				break
			}
			l.add(key)
			l.entries = append(l.entries, Entry{ID: id, Key: key, Off: off + recordHeader + int64(len(id)), Len: n - recordHeader - int64(len(id))})
		}
		off += n
		keep = off
	}
	if keep < 0 {
		return l.start(size, meta)
	}
	return l.cut(size, keep)
}

// start writes a new framed log's magic and metadata over a file of size
// bytes that holds neither whole.
func (l *Log) start(size int64, meta []byte) error {
	if err := l.cut(size, 0); err != nil {
		return err
	}
	b := append([]byte(recordsMagic), frame(nil, nil, meta)...)
	if _, err := l.f.Write(b); err != nil {
		return err
	}
	l.size = int64(len(b))
	return l.f.Sync()
}

// readRecord reads one record at off: its id, its payload (only when it is
// the metadata, else nil: payloads are checked, not kept) and its length.
func readRecord(r *bufio.Reader, off int64) (id, payload []byte, n int64, err error) {
	var h [recordHeader]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, nil, 0, err
	}
	if string(h[:4]) != recordMagic {
		return nil, nil, 0, fmt.Errorf("offset %d: bad record magic", off)
	}
	sum := binary.LittleEndian.Uint32(h[4:])
	idLen := binary.LittleEndian.Uint32(h[8:])
	pLen := binary.LittleEndian.Uint64(h[12:])
	if idLen > maxIDLen || pLen > 1<<40 {
		return nil, nil, 0, fmt.Errorf("offset %d: bad record lengths", off)
	}
	id = make([]byte, idLen)
	if _, err := io.ReadFull(r, id); err != nil {
		return nil, nil, 0, err
	}
	crc := crc32.Update(0, castagnoli, id)
	w := crcWriter{crc: crc}
	var dst io.Writer = &w
	var kept bytes.Buffer
	if idLen == 0 {
		dst = io.MultiWriter(&w, &kept)
	}
	if _, err := io.CopyN(dst, r, int64(pLen)); err != nil {
		return nil, nil, 0, err
	}
	if w.crc != sum {
		return nil, nil, 0, fmt.Errorf("offset %d: checksum mismatch", off)
	}
	if idLen == 0 {
		payload = kept.Bytes()
	}
	return id, payload, recordHeader + int64(idLen) + int64(pLen), nil
}

type crcWriter struct{ crc uint32 }

func (w *crcWriter) Write(p []byte) (int, error) {
	w.crc = crc32.Update(w.crc, castagnoli, p)
	return len(p), nil
}

// frame appends a record of id and payload to dst.
func frame(dst, id, payload []byte) []byte {
	crc := crc32.Update(crc32.Update(0, castagnoli, id), castagnoli, payload)
	dst = append(dst, recordMagic...)
	dst = binary.LittleEndian.AppendUint32(dst, crc)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(id)))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(len(payload)))
	return append(append(dst, id...), payload...)
}

// Path is the log's file.
func (l *Log) Path() string { return l.path }

// Done reports whether the log holds the row with the given id key.
func (l *Log) Done(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.done[key]
}

// Keys returns the id keys the log holds.
func (l *Log) Keys() map[string]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	keys := make(map[string]bool, len(l.done))
	for k := range l.done {
		keys[k] = true
	}
	return keys
}

// Entries returns a framed log's records, in the order they were written.
func (l *Log) Entries() []Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Entry(nil), l.entries...)
}

// ReadAt reads from the log's file, as io.ReaderAt; with Entries, it reads
// payloads.
func (l *Log) ReadAt(p []byte, off int64) (int, error) { return l.f.ReadAt(p, off) }

// Append writes one record in one write: for a JSONL log, rec is the whole
// line (a newline is added if missing) and id is only recorded; for a
// framed log, rec is the payload. After a failed write the file is cut
// back to its last whole record and every later Append fails.
func (l *Log) Append(id json.RawMessage, rec []byte) error {
	key, err := IDKey(id)
	if err != nil {
		return fmt.Errorf("%s: %w", l.path, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	if l.f == nil {
		return fmt.Errorf("%s: closed", l.path)
	}
	b := l.buf[:0]
	if l.records {
		b = frame(b, id, rec)
	} else {
		b = append(b, rec...)
		if len(rec) == 0 || rec[len(rec)-1] != '\n' {
			b = append(b, '\n')
		}
	}
	if cap(b) <= 1<<20 {
		l.buf = b // keep small buffers for the next record
	}
	n, err := l.f.Write(b)
	if err != nil {
		if n > 0 {
			l.f.Truncate(l.size)
			l.f.Seek(l.size, io.SeekStart)
		}
		l.err = fmt.Errorf("write %s: %w", l.path, err)
		return l.err
	}
	if l.records {
		hdr := int64(recordHeader + len(id))
		l.entries = append(l.entries, Entry{ID: append(json.RawMessage(nil), id...), Key: key, Off: l.size + hdr, Len: int64(len(rec))})
	}
	l.size += int64(n)
	l.add(key)
	l.dirty = true
	if time.Since(l.lastSync) >= l.SyncEvery {
		l.syncLocked()
	}
	return l.err
}

func (l *Log) syncLocked() {
	if l.f != nil && l.dirty {
		if err := l.f.Sync(); err != nil && l.err == nil {
			l.err = fmt.Errorf("sync %s: %w", l.path, err)
		}
	}
	l.dirty = false
	l.lastSync = time.Now()
}

// Close syncs and closes the file, which releases its lock. It may be
// called more than once.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return l.err
	}
	l.syncLocked()
	err := l.f.Close()
	l.f = nil
	if l.err != nil {
		return l.err
	}
	return err
}

// Remove deletes the log's file, then closes it: a finished job's parts,
// once joined.
func (l *Log) Remove() error {
	l.mu.Lock()
	f := l.f
	l.mu.Unlock()
	if f == nil {
		return fmt.Errorf("%s: closed", l.path)
	}
	return errors.Join(os.Remove(l.path), l.Close())
}
