/* Source transform for user functions. JavaScriptCore's C API evaluates classic scripts
 * only, so `export default …` (the documented contract) is rewritten into an assignment
 * and the whole source is wrapped in a function that receives `module` and `exports`:
 *
 *     (async function(module,exports,__r3e_d){<user code, byte for byte except the rewrite>
 *     ;…})
 *
 * Line numbers are identical to the user's; only columns on line 1 shift by
 * prefix_cols (module_user_column undoes that). The rewrite of `export default` keeps the
 * length of the replaced span, so columns on that line are unchanged too. Evaluating the
 * result yields the wrapper function; call it with (module, module.exports, holder): the
 * default export lands in holder.v. The wrapper is async so top-level `await` works as in
 * an ES module; the module is loaded once its promise settles. Other import/export forms are
 * rejected with a SyntaxError-like message and the user's line/column. */
#ifndef R3E_RUNTIME_MODULE_H
#define R3E_RUNTIME_MODULE_H

#include <stddef.h>

typedef struct {
    char *code; /* malloc'ed, NUL-terminated wrapped source; owned */
    size_t len;
    size_t prefix_cols; /* columns the wrapper adds in front of line 1 */
} module_src_t;

typedef struct {
    char message[256];
    int line, column; /* 1-based, in the user's source */
} module_error_t;

/* Returns 0 with *out filled (release with module_src_free), or -1 with *e filled when the
 * source uses an unsupported module form. Never fails for other reasons except OOM
 * (then message says so, line/column 0). */
int module_transform(const char *src, size_t len, module_src_t *out, module_error_t *e);
void module_src_free(module_src_t *m);

/* Maps a 1-based column on `line` of the wrapped source to the user's column. */
int module_user_column(const module_src_t *m, int line, int column);

#endif
