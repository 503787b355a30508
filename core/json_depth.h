// A nesting-depth guard for JSON text from users (configs, --set values, checkpoint and
// safetensors headers, metrics files). Deeply nested input ("[[[[..." tens of thousands deep)
// would make the recursive parts of the JSON library (copying, dumping, comparing) run out of
// stack; checking the depth on the raw text first turns it into an ordinary error.
#pragma once
#include <string_view>

namespace nl {

// Arrays/objects nested deeper than this are refused. Real configs nest fewer than 10 levels.
constexpr int kMaxJsonDepth = 128;

// Whether `text` nests arrays/objects deeper than `limit` (brackets inside strings do not
// count). Linear in the text, no recursion; stops at the first level past the limit.
bool json_too_deep(std::string_view text, int limit = kMaxJsonDepth);

}  // namespace nl
