// UTF-8 helpers for the character datasets: decoding to code points, encoding back, and a
// small lower-casing of ASCII and Latin-1 letters (enough for the Western European word lists).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nl {

// Decodes `text` into code points; returns false (and leaves `out` partial) on invalid UTF-8
// (bad lead or continuation bytes, overlong forms, surrogates, values above U+10FFFF).
bool utf8_decode(std::string_view text, std::vector<uint32_t>& out);
// Appends the UTF-8 encoding of code point `cp` to `out`.
void utf8_append(uint32_t cp, std::string& out);
std::string utf8_encode(uint32_t cp);
// Lower case for A-Z and U+00C0..U+00DE (except U+00D7 multiplication sign); others unchanged.
uint32_t lower_latin1(uint32_t cp);

}  // namespace nl
