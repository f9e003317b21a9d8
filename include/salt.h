/* salt: adapt a GGUF LLM to a target language with SALT, and validate it in llama.cpp.
 *
 * The C API of libsalt.so / libsalt.a (built by `cargo build --release`, in
 * target/release/). Configurations and results are JSON strings; the README's "C API"
 * section lists every key. Every call returns a salt_status; on failure
 * salt_last_error() gives the calling thread's message, naming the file, key or tensor.
 * No panic crosses this boundary. Calls are safe from several threads at once.
 *
 * Only salt_* symbols are exported: the llama.cpp and ggml inside libsalt.so do not clash
 * with a runtime's own.
 */
#ifndef SALT_H
#define SALT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum salt_status {
    SALT_OK = 0,
    SALT_CHECK_FAILED = 1, /* done, but a check failed (eval: tokenizer parity) */
    SALT_ERROR = 2,        /* failed; see salt_last_error() */
    SALT_CANCELLED = 3,    /* stopped by the cancel flag; nothing was written */
    SALT_BAD_ARGUMENT = 4, /* null pointer, not UTF-8, or not this call's JSON */
    SALT_PANIC = 5         /* a bug, caught at the boundary */
} salt_status;

/* Progress: stage name ("source", "neighbours", "eval", ...), done and total (total 0:
 * a message line), the message, and the pointer you passed. Called on the calling
 * thread; the strings live only for the call. */
typedef void (*salt_progress_fn)(void *user, const char *stage, uint64_t done,
                                 uint64_t total, const char *message);

/* A cancel flag: set it from any thread; runs using it stop at their next check (a
 * fraction of a second) and return SALT_CANCELLED. */
typedef struct salt_cancel salt_cancel;
salt_cancel *salt_cancel_new(void);
void salt_cancel_set(const salt_cancel *flag);
void salt_cancel_free(salt_cancel *flag);

/* Adapts a model. config_json: every option of `salt transfer` under its flag's name
 * with '_' for '-': {"source", "plm", "plm_embeddings", "out", "methods" (names, or
 * ["all"]), "output_method", "aux" | "aux_train", "aux_save", "aux_dim", "aux_epoch",
 * "trim_to", "trim_min_count", "keep_single_chars", "keep_script" (names),
 * "keep_basic" (default true), "heldout", "chat_tokens" (default true), "plan", "seed",
 * "rcond", "omp_k", "untie", "max_k", "embd_type" ("same" or a ggml type), "device"
 * ("cpu", "cuda", "cuda:N", "auto", "cuda-shim"), "force", "split_max_size" (bytes)};
 * absent keys keep the CLI's defaults. On SALT_OK,
 * *result_json (if result_json is not NULL) is a JSON array with one report per method.
 * progress, user and cancel may be NULL. */
salt_status salt_transfer(const char *config_json, salt_progress_fn progress, void *user,
                          const salt_cancel *cancel, char **result_json);

/* Fits the output rows (the head) of a model on a target-language training text, the
 * body frozen, and writes a new GGUF. config_json: {"model", "train", "out", "rows"
 * ("all", "new", "unshared"), "l2", "iters", "max_tokens", "val_share", "ctx",
 * "head_type" ("same" or a ggml type name), "inputs" ("keep", "tie"), "cache"
 * (a folder; absent: no cache), "threads", "force"}; absent keys keep `salt tune`'s
 * defaults. On SALT_OK, *result_json (if result_json is not NULL) is the report:
 * positions, rows fitted, the input rows' treatment, the iteration kept, the
 * per-iteration losses, seconds. */
salt_status salt_tune(const char *config_json, salt_progress_fn progress, void *user,
                      const salt_cancel *cancel, char **result_json);

/* Trains the input and output rows of a model through its frozen body (llama, qwen2,
 * gemma3) on a target-language training text and writes a new GGUF, untied. config_json:
 * {"model", "train", "out", "val_text" (another domain: the step kept may not score worse
 * on it than the start), "rows" ("unshared", "new", "all"), "steps", "lr_input",
 * "lr_output", "decay", "lazy", "eval_every", "val_windows", "val_share", "ctx", "seed", "threads",
 * "checkpoint" (a file; absent: none), "resume", "force"}; absent keys keep `salt train`'s
 * defaults. On SALT_OK, *result_json is the report: windows, rows trained, the step kept,
 * every validation, seconds per step. */
salt_status salt_train(const char *config_json, salt_progress_fn progress, void *user,
                       const salt_cancel *cancel, char **result_json);

/* Evaluates models through llama.cpp. config_json: {"models", "text", "max_tokens",
 * "ctx", "threads", "reference", "report", "plan", "ngram", "parity_only",
 * "continuations", "speed" (time prompt and generation; off unless true), "speed_prompt",
 * "speed_gen" (tokens timed), "pair_with" (a row label: paired differences against it),
 * "force"}. On SALT_OK or SALT_CHECK_FAILED, *table is the table
 * `salt eval` prints and *result_json the full result. */
salt_status salt_eval(const char *config_json, salt_progress_fn progress, void *user,
                      const salt_cancel *cancel, char **table, char **result_json);

/* Plans the routes before any transfer. config_json: {"source", "plm" (optional),
 * "text"}. On SALT_OK, *result_json is the plan: per route (source, trim, trim+SCRIPT,
 * replace) the vocabulary, estimated file bytes, tokens per kB of the text, shared and
 * fallback byte shares, head cost and cost per byte; the recommended route, method and
 * reason. */
salt_status salt_plan(const char *config_json, salt_progress_fn progress, void *user,
                      const salt_cancel *cancel, char **result_json);

/* Builds every viable route, scores them on a validation part of the text (its last
 * lines) and writes the winner. config_json: {"source", "text", "plm", "out", "heldout",
 * "val_share", "tolerance", "fit_tokens", "fit_iters", "eval_tokens", "train_steps",
 * "keep_candidates", "threads", "force", "report"}; absent keys keep `salt adapt`'s
 * defaults. On SALT_OK, *result_json is the report: plan, candidates, validation table,
 * winner, verdict. */
salt_status salt_adapt(const char *config_json, salt_progress_fn progress, void *user,
                       const salt_cancel *cancel, char **result_json);

/* The calling thread's last error message ("" when none); valid until its next call. */
const char *salt_last_error(void);

/* Frees a string returned through result_json or table. */
void salt_string_free(char *s);

/* The version and llama.cpp build, as `salt --version` prints them (static). */
const char *salt_version(void);

#ifdef __cplusplus
}
#endif

#endif /* SALT_H */
