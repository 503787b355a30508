// TEMPORARY: ops declared in ops.h whose implementation is in progress. Delete each stub as
// its real file lands.
#include "core/error.h"
#include "core/ops.h"
namespace nl {
#define NL_PENDING(sig) sig { throw Error("not implemented yet"); }
NL_PENDING(Tensor neg(const Tensor&))
NL_PENDING(Tensor transpose(const Tensor&, int64_t, int64_t))
}  // namespace nl
