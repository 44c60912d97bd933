// Package tinyllama writes a small, deterministic llama model as GGUF, so
// that the project's tests, demos and benchmarks have a model without
// downloading one. The weights are random, so the text it generates is
// nonsense, but llama.cpp loads it as any LLM_ARCH_LLAMA model and runs
// every part of it: embeddings, RMSNorm, RoPE, grouped-query attention,
// SwiGLU, tokenizer and chat template. WriteBERT writes a tiny BERT
// (architecture "bert", with pooling) in the same way, for embedding-model
// tests; it needs a WordPiece vocabulary such as ggml-vocab-bert-bge.gguf.
//
// # The model
//
// The keys are those llama.cpp reads for the architecture "llama"
// (general.architecture, general.name, general.file_type,
// llama.context_length, llama.embedding_length, llama.block_count,
// llama.feed_forward_length, llama.attention.head_count,
// llama.attention.head_count_kv, llama.rope.dimension_count,
// llama.rope.freq_base, llama.attention.layer_norm_rms_epsilon,
// llama.vocab_size) and the tensors token_embd.weight, output_norm.weight,
// output.weight (not tied) and blk.N.{attn_norm, attn_q, attn_k, attn_v,
// attn_output, ffn_norm, ffn_gate, ffn_up, ffn_down}.weight, with ggml's
// dimension order (a PyTorch [out, in] weight has dims [in, out]).
//
// # The weights
//
// Each tensor has its own stream of a PCG generator (math/rand/v2's
// NewPCG(seed, FNV-1a-64 of the tensor's name)), turned into values
// uniform around their mean: matrices with deviation 1/sqrt(fan-in), so
// activations stay of order 1; embeddings with deviation 1; norm weights
// around 1 with deviation 0.1. The same Config therefore gives the same
// bytes everywhere, and a tensor's values do not depend on the other
// tensors or the vocabulary. Values are made chunk by chunk while the file
// is written, never all in memory: a 110M-parameter f16 model writes in
// about two seconds.
//
// # The vocabulary
//
// With Config.Vocab, every tokenizer.* key of that vocab-only GGUF is
// copied (tokens, scores, types, merges, special ids, chat template, ...)
// and the embeddings sized by its token count. Without it, a built-in
// SentencePiece-style vocabulary of about 2200 tokens ("llama" model,
// "default" pre-tokenizer): <unk>, <s>, </s>, the 256 byte tokens
// <0x00>..<0xFF> so any text tokenizes, pieces of common English words,
// then the control tokens <|im_start|> and <|im_end|>; eos is </s>, eot is
// <|im_end|>, a BOS is added, and the chat template is ChatML.
//
// Nothing here is safe or unsafe to share: the functions keep no state.
package tinyllama
