package engine

import "sort"

// vocab is the vocabulary as the scheduler uses it: each token's output
// text (rendered on first use and kept), the end-of-generation tokens, and,
// once a grammar is used, a byte trie of the texts that the grammar guide
// walks to find every token the grammar allows next. Only the scheduler's
// goroutine uses it.
type vocab struct {
	b     Backend
	text  [][]byte // per token, once known; empty for tokens with no text
	known []bool
	isEOG []bool
	eog   []int32

	// The trie is flat: node i's children are edges[nodes[i].edge0 :
	// +nodes[i].nEdges] (sorted by byte), and the tokens whose text ends
	// at node i are toks[nodes[i].tok0 : +nodes[i].nToks]. Node 0 is the
	// root; nodes is nil until a grammar needs it.
	nodes []trieNode
	edges []trieEdge
	toks  []int32
}

type trieNode struct {
	edge0, nEdges int32
	tok0, nToks   int32
}

type trieEdge struct {
	b     byte
	child int32
}

func newVocab(b Backend) *vocab {
	n := b.VocabSize()
	v := &vocab{b: b, text: make([][]byte, n), known: make([]bool, n), isEOG: make([]bool, n)}
	for _, t := range b.EOG() {
		if t >= 0 && int(t) < n && !v.isEOG[t] {
			v.isEOG[t] = true
			v.eog = append(v.eog, t)
		}
	}
	return v
}

// tokenText is tok's output text; end-of-generation tokens have none.
func (v *vocab) tokenText(tok int32) []byte {
	if !v.known[tok] {
		if !v.isEOG[tok] {
			v.text[tok] = []byte(v.b.TokenText(tok))
		}
		v.known[tok] = true
	}
	return v.text[tok]
}

// trie builds the trie on first use.
func (v *vocab) trie() {
	if v.nodes != nil {
		return
	}
	order := make([]int32, 0, len(v.text))
	for t := range v.text {
		if len(v.tokenText(int32(t))) > 0 {
			order = append(order, int32(t))
		}
	}
	sort.Slice(order, func(i, j int) bool {
		a, b := v.text[order[i]], v.text[order[j]]
		if c := compareBytes(a, b); c != 0 {
			return c < 0
		}
		return order[i] < order[j]
	})
	v.nodes = []trieNode{{}}
	v.build(0, order, 0)
}

// build fills node (at depth d) from tokens, all of which share their
// first d bytes, sorted by text.
func (v *vocab) build(node int32, tokens []int32, d int) {
	i := 0
	v.nodes[node].tok0 = int32(len(v.toks))
	for i < len(tokens) && len(v.text[tokens[i]]) == d {
		v.toks = append(v.toks, tokens[i])
		i++
	}
	v.nodes[node].nToks = int32(len(v.toks)) - v.nodes[node].tok0
	rest := tokens[i:]
	// One edge per distinct next byte. The node's edges are appended
	// together before any child is built, so that they stay contiguous.
	edge0 := int32(len(v.edges))
	var bounds []int
	for j := 0; j < len(rest); {
		b := v.text[rest[j]][d]
		k := j
		for k < len(rest) && v.text[rest[k]][d] == b {
			k++
		}
		v.edges = append(v.edges, trieEdge{b: b, child: -1})
		bounds = append(bounds, j)
		j = k
	}
	bounds = append(bounds, len(rest))
	v.nodes[node].edge0 = edge0
	v.nodes[node].nEdges = int32(len(bounds) - 1)
	for gi := 0; gi+1 < len(bounds); gi++ {
		child := int32(len(v.nodes))
		v.nodes = append(v.nodes, trieNode{})
		v.edges[edge0+int32(gi)].child = child
		v.build(child, rest[bounds[gi]:bounds[gi+1]], d+1)
	}
}

func compareBytes(a, b []byte) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return len(a) - len(b)
}
