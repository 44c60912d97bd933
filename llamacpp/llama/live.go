package llama

/*
#include <malloc.h>
static size_t locallm_heap_in_use(void) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
#else
    return 0;
#endif
}
*/
import "C"

import "sync/atomic"

// live counts the C objects this package owns, by kind, for leak tests.
var live struct {
	models, contexts, batches, samplers atomic.Int64
}

// LiveObjects reports how many C objects of each kind are alive (made and
// not yet closed or finalized): a leak shows as a count that grows.
func LiveObjects() map[string]int64 {
	return map[string]int64{
		"models":   live.models.Load(),
		"contexts": live.contexts.Load(),
		"batches":  live.batches.Load(),
		"samplers": live.samplers.Load(),
	}
}

// CHeapInUse is the C heap's bytes in use (glibc's mallinfo2; 0 elsewhere),
// for leak tests of what llama.cpp allocates.
func CHeapInUse() uint64 { return uint64(C.locallm_heap_in_use()) }
