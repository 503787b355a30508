#include "data/batch.h"

namespace nl {
const char* task_name(TaskKind k) {
  switch (k) {
    case TaskKind::classification: return "classification";
    case TaskKind::regression: return "regression";
    case TaskKind::language_model: return "language_model";
  }
  return "?";
}
}  // namespace nl
