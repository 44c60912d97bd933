#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"
#include "_cgo_export.h"

int32_t locallm_openmp(void) {
#ifdef GGML_USE_OPENMP
    return 1;
#else
    return 0;
#endif
}

locallm_flag * locallm_flag_new(void) { return (locallm_flag *) calloc(1, sizeof(locallm_flag)); }
void locallm_flag_set(locallm_flag * f, int32_t v) { __atomic_store_n(&f->value, v, __ATOMIC_SEQ_CST); }
void locallm_flag_free(locallm_flag * f) { free(f); }

bool locallm_abort_callback(void * data) {
    locallm_flag * f = (locallm_flag *) data;
    return f != NULL && __atomic_load_n(&f->value, __ATOMIC_SEQ_CST) != 0;
}

bool locallm_progress_callback(float progress, void * data) {
    (void) progress;
    return !locallm_abort_callback(data);
}

static void locallm_log(enum ggml_log_level level, const char * text, void * user_data) {
    (void) user_data;
    goLog((int) level, (char *) text);
}

static void locallm_log_silent(enum ggml_log_level level, const char * text, void * user_data) {
    (void) level; (void) text; (void) user_data;
}

void locallm_log_install(int enabled) {
    llama_log_set(enabled ? locallm_log : locallm_log_silent, NULL);
}

static void fill(llama_token_data * buf, const float * logits, int32_t n) {
    for (int32_t i = 0; i < n; i++) {
        buf[i].id = i;
        buf[i].logit = logits[i];
        buf[i].p = 0.0f;
    }
}

static int32_t selected(const llama_token_data_array * a) {
    if (a->selected < 0 || a->selected >= (int64_t) a->size) {
        return -1;
    }
    if (isinf(a->data[a->selected].logit) && a->data[a->selected].logit < 0) {
        return -1;
    }
    return a->data[a->selected].id;
}

int32_t locallm_sample(struct llama_sampler * chain, struct llama_context * ctx, int32_t idx,
                       llama_token_data * buf, int32_t n_vocab) {
    const float * logits = llama_get_logits_ith(ctx, idx);
    if (logits == NULL) {
        return -2;
    }
    fill(buf, logits, n_vocab);
    llama_token_data_array arr = { buf, (size_t) n_vocab, -1, false };
    llama_sampler_apply(chain, &arr);
    return selected(&arr);
}

int32_t locallm_eog_tokens(const struct llama_vocab * vocab, int32_t * out) {
    int32_t n = llama_vocab_n_tokens(vocab), k = 0;
    for (int32_t i = 0; i < n; i++) {
        if (llama_vocab_is_eog(vocab, i)) {
            out[k++] = i;
        }
    }
    return k;
}

struct locallm_capture {
    int32_t   n_layer;   // the model's block count
    int32_t   max;       // room in the arrays below
    int32_t   n;         // how many layers are captured now
    int32_t   top;       // the highest layer captured: the graph can stop after it
    int32_t   stop_early;
    int32_t   graph;     // LOCALLM_GRAPH_*
    int32_t * layers;    // Hugging Face numbering: 0 embeddings, i block i, n_layer final norm
    float  ** data;      // per captured layer: rows * n_embd floats
    int64_t * rows;
    int64_t * cap;       // capacity in floats
    int64_t   n_embd;
    int32_t   failed;    // a tensor had an unexpected type or shape, or memory ran out
};

locallm_capture * locallm_capture_new(int32_t n_layer, int32_t max_layers) {
    locallm_capture * c = (locallm_capture *) calloc(1, sizeof(locallm_capture));
    if (c == NULL) return NULL;
    c->n_layer = n_layer;
    c->max = max_layers;
    c->layers = (int32_t *) calloc((size_t) max_layers, sizeof(int32_t));
    c->data = (float **) calloc((size_t) max_layers, sizeof(float *));
    c->rows = (int64_t *) calloc((size_t) max_layers, sizeof(int64_t));
    c->cap = (int64_t *) calloc((size_t) max_layers, sizeof(int64_t));
    if (!c->layers || !c->data || !c->rows || !c->cap) {
        locallm_capture_free(c);
        return NULL;
    }
    return c;
}

void locallm_capture_free(locallm_capture * c) {
    if (c == NULL) return;
    if (c->data) {
        for (int32_t i = 0; i < c->max; i++) free(c->data[i]);
    }
    free(c->data);
    free(c->layers);
    free(c->rows);
    free(c->cap);
    free(c);
}

int32_t locallm_capture_set(locallm_capture * c, const int32_t * layers, int32_t n, int32_t stop_early, int32_t graph) {
    if (n < 0 || n > c->max) return -1;
    if (graph != LOCALLM_GRAPH_DECODER && graph != LOCALLM_GRAPH_BERT) return -1;
    c->n = n;
    c->top = -1;
    c->stop_early = stop_early;
    c->graph = graph;
    for (int32_t i = 0; i < n; i++) {
        c->layers[i] = layers[i];
        if (layers[i] > c->top) c->top = layers[i];
    }
    locallm_capture_reset(c);
    return 0;
}

void locallm_capture_reset(locallm_capture * c) {
    for (int32_t i = 0; i < c->max; i++) c->rows[i] = 0;
    c->failed = 0;
    c->n_embd = 0;
}

// block_index parses the block number of a name "<prefix>N", or returns -1.
static int32_t block_index(const char * name, const char * prefix) {
    size_t n = strlen(prefix);
    if (strncmp(name, prefix, n) != 0) return -1;
    char * end = NULL;
    long il = strtol(name + n, &end, 10);
    if (end == name + n || *end != '\0' || il < 0 || il > INT32_MAX) return -1;
    return (int32_t) il;
}

// bert_block_out returns il when t is the output of block il in a graph of
// llm_build_bert, else -1. That graph names no block output (only the last,
// "result_embd"), so it is found by its shape: the bias add of
// layer_output_norm, ADD(MUL(NORM(ADD(ffn_out, "ffn_inp-il")) = "norm_w-il", b).
// attn_output_norm has the same form, but its NORM's input is not the sum
// with ffn_inp, so it does not match.
static int32_t bert_block_out(const struct ggml_tensor * t) {
    if (t->op != GGML_OP_ADD) return -1;
    const struct ggml_tensor * w = t->src[0];
    if (w == NULL || w->op != GGML_OP_MUL) return -1;
    int32_t il = block_index(w->name, "norm_w-");
    if (il < 0) return -1;
    const struct ggml_tensor * norm = w->src[0];
    if (norm == NULL || norm->op != GGML_OP_NORM) return -1;
    const struct ggml_tensor * sum = norm->src[0];
    if (sum == NULL || sum->op != GGML_OP_ADD || sum->src[1] == NULL) return -1;
    char want[32];
    snprintf(want, sizeof want, "ffn_inp-%d", (int) il);
    return strcmp(sum->src[1]->name, want) == 0 ? il : -1;
}

// layer_of maps a graph tensor to its Hugging Face hidden_states index, or -1.
static int32_t layer_of(const struct ggml_tensor * t, const locallm_capture * c) {
    const char * name = t->name;
    if (c->graph == LOCALLM_GRAPH_BERT) {
        // 0 is the embeddings after their LayerNorm; block il's output is
        // il+1, the last block's (all rows: an encoder outputs every token)
        // n_layer, as Hugging Face's BertModel numbers them.
        if (strcmp(name, "inp_norm") == 0) return 0;
        int32_t il = bert_block_out(t);
        return il >= 0 && il < c->n_layer ? il + 1 : -1;
    }
    if (strcmp(name, "inp_embd") == 0) return 0;
    if (strcmp(name, "result_norm") == 0) return c->n_layer;
    int32_t il = block_index(name, "l_out-");
    // The last block's raw output is cut to the output rows and is not
    // one of Hugging Face's hidden states (the final norm replaces it).
    if (il >= 0 && il < c->n_layer - 1) return il + 1;
    return -1;
}

static int32_t index_of(const locallm_capture * c, int32_t l) {
    if (l < 0) return -1;
    for (int32_t i = 0; i < c->n; i++) {
        if (c->layers[i] == l) return i;
    }
    return -1;
}

bool locallm_capture_eval(struct ggml_tensor * t, bool ask, void * user_data) {
    locallm_capture * c = (locallm_capture *) user_data;
    if (c->n == 0) {
        return ask ? false : true;
    }
    int32_t l = layer_of(t, c);
    int32_t i = index_of(c, l);
    if (ask) {
        return i >= 0;
    }
    if (i < 0) {
        return true;
    }
    if (t->type != GGML_TYPE_F32 || !ggml_is_contiguous(t) || t->ne[2] != 1 || t->ne[3] != 1 ||
        (c->n_embd != 0 && c->n_embd != t->ne[0])) {
        c->failed = 1;
        return true;
    }
    const int64_t n_embd = t->ne[0], n_rows = t->ne[1];
    const int64_t need = (c->rows[i] + n_rows) * n_embd;
    if (need > c->cap[i]) {
        int64_t cap = c->cap[i] ? c->cap[i] : 4096;
        while (cap < need) cap *= 2;
        float * p = (float *) realloc(c->data[i], (size_t) cap * sizeof(float));
        if (p == NULL) {
            c->failed = 1;
            return true;
        }
        c->data[i] = p;
        c->cap[i] = cap;
    }
    ggml_backend_tensor_get(t, c->data[i] + c->rows[i] * n_embd, 0, (size_t) (n_rows * n_embd) * sizeof(float));
    c->rows[i] += n_rows;
    c->n_embd = n_embd;
    // Nothing after the highest requested layer is needed: returning false
    // skips the rest of the graph (later blocks and the output matrix).
    return !(c->stop_early && l == c->top);
}

int64_t locallm_capture_rows(locallm_capture * c, int32_t layer_index, float * dst, int64_t row0, int64_t n_rows, int64_t n_embd) {
    if (c->failed) return -1;
    if (layer_index < 0 || layer_index >= c->n) return -2;
    if (row0 < 0 || row0 + n_rows > c->rows[layer_index] || c->n_embd != n_embd) return -3;
    memcpy(dst, c->data[layer_index] + row0 * n_embd, (size_t) (n_rows * n_embd) * sizeof(float));
    return n_rows;
}

int64_t locallm_capture_count(locallm_capture * c, int32_t layer_index) {
    if (layer_index < 0 || layer_index >= c->n) return -1;
    return c->rows[layer_index];
}

int32_t locallm_sample_subset(struct llama_sampler * chain, struct llama_context * ctx, int32_t idx,
                              llama_token_data * buf, const int32_t * ids, int32_t n) {
    const float * logits = llama_get_logits_ith(ctx, idx);
    if (logits == NULL) {
        return -2;
    }
    for (int32_t i = 0; i < n; i++) {
        buf[i].id = ids[i];
        buf[i].logit = logits[ids[i]];
        buf[i].p = 0.0f;
    }
    llama_token_data_array arr = { buf, (size_t) n, -1, false };
    llama_sampler_apply(chain, &arr);
    return selected(&arr);
}
