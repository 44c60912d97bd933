package job

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

func TestOpenLinesCutsATornTail(t *testing.T) {
	rows := `{"id":"a","x":1}` + "\n" + `{"id":2}` + "\n" + `{"id":"c"}` + "\n"
	for _, tc := range []struct {
		name  string
		tail  string
		cut   int64
		error string
	}{
		{name: "clean"},
		{name: "torn last line", tail: `{"id":"d","gen`, cut: 14},
		{name: "an id but no newline", tail: `{"id":"d"}`, cut: 10},
		{name: "NULs", tail: "\x00\x00\x00\n\x00\x00", cut: 6},
		{name: "empty line", tail: "\n", cut: 1},
		{name: "damage before good rows", tail: "garbage\n" + `{"id":"e"}` + "\n", error: "line 4 is not a JSON row"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out.jsonl")
			require.NoError(t, os.WriteFile(path, []byte(rows+tc.tail), 0o644))
			l, err := OpenLines(path)
			if tc.error != "" {
				require.ErrorContains(t, err, tc.error)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.cut, l.Truncated)
			assert.Equal(t, map[string]bool{"a": true, "2": true, "c": true}, l.Keys())
			require.NoError(t, l.Append(json.RawMessage(`"z"`), []byte(`{"id":"z"}`)))
			require.NoError(t, l.Close())
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, rows+`{"id":"z"}`+"\n", string(data))
		})
	}
}

func TestLogLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	l, err := OpenLines(path)
	require.NoError(t, err)
	_, err = OpenLines(path)
	require.ErrorIs(t, err, ErrLocked)
	_, err = OpenRecords(path, nil)
	require.ErrorIs(t, err, ErrLocked)
	require.NoError(t, l.Close())
	l, err = OpenLines(path)
	require.NoError(t, err, "the lock goes with the file's close")
	l.Close()
}

// writeRecords writes a framed log of n records, record i with id "r<i>"
// and a payload of i+1 bytes of value i, and returns the file's bytes.
func writeRecords(t *testing.T, path string, meta []byte, n int) []byte {
	t.Helper()
	l, err := OpenRecords(path, meta)
	require.NoError(t, err)
	for i := range n {
		require.NoError(t, l.Append(json.RawMessage(fmt.Sprintf(`"r%d"`, i)), bytes.Repeat([]byte{byte(i)}, i+1)))
	}
	require.NoError(t, l.Close())
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return data
}

// checkRecords checks that l holds records r0 .. r<n-1>, as writeRecords
// wrote them, and reads each payload back.
func checkRecords(t *testing.T, l *Log, n int) {
	t.Helper()
	es := l.Entries()
	require.Len(t, es, n)
	for i, e := range es {
		assert.Equal(t, fmt.Sprintf("r%d", i), e.Key)
		p := make([]byte, e.Len)
		_, err := l.ReadAt(p, e.Off)
		require.NoError(t, err)
		assert.Equal(t, bytes.Repeat([]byte{byte(i)}, i+1), p, "record %d", i)
	}
}

func TestRecordsRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.part")
	writeRecords(t, path, []byte(`{"k":1}`), 5)
	l, err := OpenRecords(path, []byte(`{"k":1}`))
	require.NoError(t, err)
	defer l.Close()
	assert.Zero(t, l.Truncated)
	checkRecords(t, l, 5)
	assert.True(t, l.Done("r4"))
	assert.False(t, l.Done("r5"))
}

// A framed log cut at any byte keeps exactly the records that are whole
// before the cut, and takes new records after them.
func TestRecordsTornAtEveryByte(t *testing.T) {
	dir := t.TempDir()
	meta := []byte(`{"kind":"test"}`)
	full := writeRecords(t, filepath.Join(dir, "full.part"), meta, 6)
	// Where each record ends, the first "record" being the magic and the
	// metadata.
	var ends []int
	for i := 0; i <= 6; i++ {
		data := writeRecords(t, filepath.Join(dir, fmt.Sprintf("n%d.part", i)), meta, i)
		ends = append(ends, len(data))
	}
	require.Equal(t, len(full), ends[6])
	for cut := 0; cut <= len(full); cut++ {
		path := filepath.Join(dir, "cut.part")
		require.NoError(t, os.WriteFile(path, full[:cut], 0o644))
		l, err := OpenRecords(path, meta)
		require.NoError(t, err, "cut at %d", cut)
		whole := 0
		for whole < 6 && ends[whole+1] <= cut {
			whole++
		}
		checkRecords(t, l, whole)
		if cut >= ends[0] {
			assert.Equal(t, int64(cut-ends[whole]), l.Truncated, "cut at %d", cut)
		}
		require.NoError(t, l.Append(json.RawMessage(fmt.Sprintf(`"r%d"`, whole)), bytes.Repeat([]byte{byte(whole)}, whole+1)))
		require.NoError(t, l.Close())
		l, err = OpenRecords(path, meta)
		require.NoError(t, err)
		checkRecords(t, l, whole+1)
		require.NoError(t, l.Close())
	}
}

// A record that fails its checksum is cut, with every record after it.
func TestRecordsChecksum(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.part")
	data := writeRecords(t, path, nil, 4)
	l, err := OpenRecords(path, nil)
	require.NoError(t, err)
	e := l.Entries()[2]
	l.Close()
	data[e.Off] ^= 0xff
	require.NoError(t, os.WriteFile(path, data, 0o644))
	l, err = OpenRecords(path, nil)
	require.NoError(t, err)
	defer l.Close()
	checkRecords(t, l, 2)
	assert.Equal(t, int64(len(data))-(e.Off-recordHeader-int64(len(`"r2"`))), l.Truncated)
}

func TestRecordsMeta(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.part")
	writeRecords(t, path, []byte(`{"layers":[-1]}`), 2)
	_, err := OpenRecords(path, []byte(`{"layers":[0]}`))
	require.ErrorIs(t, err, ErrMeta)
	assert.ErrorContains(t, err, `{"layers":[-1]}`)

	other := filepath.Join(t.TempDir(), "x.part")
	require.NoError(t, os.WriteFile(other, []byte(strings.Repeat("not a parts file\n", 3)), 0o644))
	_, err = OpenRecords(other, nil)
	assert.ErrorContains(t, err, "not a locallm parts file")
}

func TestLogRemove(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.part")
	l, err := OpenRecords(path, nil)
	require.NoError(t, err)
	require.NoError(t, l.Append(json.RawMessage(`1`), []byte("x")))
	require.NoError(t, l.Remove())
	assert.NoFileExists(t, path)
	assert.Error(t, l.Append(json.RawMessage(`2`), []byte("y")), "a removed log takes no records")
}
