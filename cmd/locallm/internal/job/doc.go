// Package job is the offline-job engine behind locallm's generate, embed and
// hidden commands: it reads rows from a JSONL input, picks a shard's rows,
// runs them through the command's function, appends each finished row to an
// output that survives a crash, and shows progress. The commands differ in
// what a row produces, not in how rows are read, resumed, sharded or
// written.
//
// Rows. Every input line is a JSON object with an "id": a non-empty string
// or a number, unique in the file (IDKey: 7 and "7" are one id). A row
// belongs to shard I of N when the FNV-1a hash of its id is I mod N
// (Shard); the index comes from --shard, JOB_COMPLETION_INDEX or
// SLURM_ARRAY_TASK_ID (ResolveShard). Lines without a usable id are
// reported, by line number, by one shard.
//
// Outputs. A Log is an append-only file of whole records, each written in
// one write(2): a JSONL file (OpenLines, generate's output) or a file of
// framed binary records with a checksum (OpenRecords, the parts of embed
// and hidden, which a finished run joins into .npy files). Opening a Log
// takes an exclusive advisory lock (flock: a second process on the same
// output fails at once), reads the ids it holds and cuts a torn tail, so a
// process killed at any moment leaves at most one torn record, and the
// next run writes each remaining id once. A Log is fsync'd every few
// seconds and when closed. Bad rows go to an errors file
// (OUTPUT.errors.jsonl), which each run rewrites.
//
// Run is the engine: it plans (one pass over the input: duplicate ids are an
// error before any work; rows already in the output are skipped), then
// feeds the rows still to do, in input order and in batches, to the
// command's Process function on Workers goroutines, and appends each
// result. Memory holds the ids (for exactly-once) and the rows in flight,
// never the results. Cancelling the context stops it cleanly: rows in
// flight are dropped and run again on resume.
//
// A Log and a Progress are safe for concurrent use; Run calls Process
// from several goroutines at once when Workers > 1.
package job
