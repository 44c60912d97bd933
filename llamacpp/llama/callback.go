package llama

// Functions C calls back into. cgo forbids C definitions in the preamble of
// a file with //export, so this file holds only trampolines; their C callers
// are in shim.c.

import "C"

//export goLog
func goLog(level C.int, text *C.char) {
	logFromC(int(level), C.GoString(text))
}
