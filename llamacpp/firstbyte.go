package llamacpp

// tokensByFirstByte indexes the vocabulary by the first byte of each
// token's text as llama.cpp's grammar sees it (special tokens rendered).
// Tokens with empty text, which the grammar always rejects, are left out;
// end-of-generation tokens are listed apart, since the grammar allows them
// whenever it is complete. Built once per model, on first use.
func (m *Model) tokensByFirstByte() *firstByteIndex {
	m.firstOnce.Do(func() {
		idx := &firstByteIndex{eog: m.eogList}
		if err := m.use(); err != nil {
			m.first = idx
			return
		}
		defer m.done()
		buf := make([]byte, 256)
		for t := 0; t < m.nVocab; t++ {
			if m.eog[int32(t)] {
				continue
			}
			p := m.piece(buf, int32(t), true)
			if p != "" {
				idx.byByte[p[0]] = append(idx.byByte[p[0]], int32(t))
			}
		}
		m.first = idx
	})
	return m.first
}

type firstByteIndex struct {
	byByte [256][]int32
	eog    []int32
}

// candidates returns the tokens whose text starts with one of next, and the
// end-of-generation tokens, into dst; ok is false when they would be more
// than limit (the whole-vocabulary path is then cheaper).
func (x *firstByteIndex) candidates(dst []int32, next []byte, limit int) ([]int32, bool) {
	n := len(x.eog)
	for _, b := range next {
		n += len(x.byByte[b])
	}
	if n > limit {
		return dst[:0], false
	}
	dst = append(dst[:0], x.eog...)
	for _, b := range next {
		dst = append(dst, x.byByte[b]...)
	}
	return dst, true
}
