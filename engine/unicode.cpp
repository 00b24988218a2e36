#include "engine/unicode.h"

#include <algorithm>
#include <cstdint>

namespace yardstick::unicode {

namespace {

bool in_ranges(std::span<const CodepointRange> ranges, char32_t cp) {
  auto it = std::upper_bound(ranges.begin(), ranges.end(), cp,
                             [](char32_t c, const CodepointRange& r) { return c < r.first; });
  return it != ranges.begin() && cp <= std::prev(it)->last;
}

constexpr char32_t kReplacement = 0xFFFD;

}  // namespace

bool is_whitespace(char32_t cp) {
  if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
  return in_ranges(whitespace_ranges(), cp);
}

bool is_numeric(char32_t cp) {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  return in_ranges(numeric_ranges(), cp);
}

Decoded decode_utf8(std::string_view bytes) {
  const auto c0 = static_cast<uint8_t>(bytes[0]);
  if (c0 < 0x80) return {c0, 1, true, false};
  // Well-formed sequences per Unicode table 3-7: the second byte's range depends on the lead
  // byte (this excludes overlongs, surrogates and code points above U+10FFFF).
  size_t need = 0;
  char32_t cp = 0;
  uint8_t lo = 0x80, hi = 0xBF;
  if (c0 >= 0xC2 && c0 <= 0xDF) {
    need = 1;
    cp = c0 & 0x1F;
  } else if (c0 >= 0xE0 && c0 <= 0xEF) {
    need = 2;
    cp = c0 & 0x0F;
    if (c0 == 0xE0) lo = 0xA0;
    if (c0 == 0xED) hi = 0x9F;
  } else if (c0 >= 0xF0 && c0 <= 0xF4) {
    need = 3;
    cp = c0 & 0x07;
    if (c0 == 0xF0) lo = 0x90;
    if (c0 == 0xF4) hi = 0x8F;
  } else {
    return {kReplacement, 1, false, false};
  }
  for (size_t i = 1; i <= need; ++i) {
    if (i >= bytes.size()) return {kReplacement, i, false, true};
    const auto c = static_cast<uint8_t>(bytes[i]);
    if (c < lo || c > hi) return {kReplacement, i, false, false};
    cp = (cp << 6) | (c & 0x3F);
    lo = 0x80;
    hi = 0xBF;
  }
  return {cp, need + 1, true, false};
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

size_t append_utf8_lossy(std::string& out, std::string_view bytes, bool final) {
  size_t i = 0;
  while (i < bytes.size()) {
    // Copy runs of ASCII at once: the common case.
    size_t j = i;
    while (j < bytes.size() && static_cast<uint8_t>(bytes[j]) < 0x80) ++j;
    out.append(bytes.data() + i, j - i);
    i = j;
    if (i == bytes.size()) break;
    const Decoded d = decode_utf8(bytes.substr(i));
    if (d.valid) {
      out.append(bytes.data() + i, d.length);
    } else if (d.truncated && !final) {
      return i;   // wait for the rest of this character
    } else {
      append_utf8(out, kReplacement);
    }
    i += d.length;
  }
  return i;
}

}  // namespace yardstick::unicode
