package engine

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestIncompleteUTF8(t *testing.T) {
	s := []byte("a€") // € is E2 82 AC
	assert.Equal(t, 0, incompleteUTF8(s))
	assert.Equal(t, 2, incompleteUTF8(s[:3]))
	assert.Equal(t, 1, incompleteUTF8(s[:2]))
	assert.Equal(t, 0, incompleteUTF8(s[:1]))
	assert.Equal(t, 0, incompleteUTF8(nil))
	emoji := []byte("😀") // 4 bytes
	assert.Equal(t, 3, incompleteUTF8(emoji[:3]))
	assert.Equal(t, 0, incompleteUTF8(emoji))
	assert.Equal(t, 0, incompleteUTF8([]byte{0x80, 0x80, 0x80, 0x80}), "stray continuation bytes are not held back forever")
}

func TestFindStopAndHeldBack(t *testing.T) {
	stops := []string{"END", "\n\n"}
	_, ok := findStop([]byte("abcEN"), 0, 0, stops)
	assert.False(t, ok)
	i, ok := findStop([]byte("abcEND and more"), 0, 4, stops)
	assert.True(t, ok)
	assert.Equal(t, 3, i)
	_, ok = findStop([]byte("END later"), 0, 9, stops)
	assert.False(t, ok, "matches wholly inside the old text were looked for before")
	i, ok = findStop([]byte("a\n\nEND"), 0, 2, stops)
	assert.True(t, ok)
	assert.Equal(t, 1, i, "the earliest stop wins")
	_, ok = findStop([]byte("END<think>x"), 3, 0, stops)
	assert.False(t, ok, "text before from (a reasoning block) is not searched")
	assert.Equal(t, 2, heldBack([]byte("abcEN"), stops))
	assert.Equal(t, 1, heldBack([]byte("abc\n"), stops))
	assert.Equal(t, 0, heldBack([]byte("abc"), stops))
	assert.Equal(t, 0, heldBack([]byte("abc"), nil))
}
