#include "engine/unicode.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

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

namespace {

// Hangul syllables (Unicode ch. 3.12): S = SBase + (L * VCount + V) * TCount + T.
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28, kSCount = kLCount * kVCount * kTCount;

uint8_t combining_class(char32_t cp) {
  if (cp < 0x300) return 0;
  const auto ranges = combining_class_ranges();
  auto it = std::upper_bound(ranges.begin(), ranges.end(), cp,
                             [](char32_t c, const CombiningClassRange& r) { return c < r.first; });
  return it != ranges.begin() && cp <= std::prev(it)->last ? std::prev(it)->combining_class : 0;
}

// A code point of the text being normalized; `cp` is meaningless for an invalid byte, which is
// copied through and blocks like a starter.
struct Unit {
  char32_t cp;
  uint8_t combining_class;
  char invalid_byte;   // 0 unless this unit is a byte that is not valid UTF-8
  bool invalid;
};

void decompose(char32_t cp, std::vector<Unit>& out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const char32_t s = cp - kSBase;
    out.push_back({kLBase + s / (kVCount * kTCount), 0, 0, false});
    out.push_back({kVBase + (s % (kVCount * kTCount)) / kTCount, 0, 0, false});
    if (s % kTCount != 0) out.push_back({kTBase + s % kTCount, 0, 0, false});
    return;
  }
  if (cp >= 0xC0) {
    const auto table = canonical_decompositions();
    auto it = std::lower_bound(table.begin(), table.end(), cp,
                               [](const Decomposition& d, char32_t c) { return d.cp < c; });
    if (it != table.end() && it->cp == cp) {
      decompose(it->first, out);
      if (it->second != 0) decompose(it->second, out);
      return;
    }
  }
  out.push_back({cp, combining_class(cp), 0, false});
}

std::optional<char32_t> compose(char32_t a, char32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase && b < kTBase + kTCount)
    return a + (b - kTBase);
  const auto table = primary_composites();
  auto it = std::lower_bound(table.begin(), table.end(), std::pair{a, b}, [](const Composition& c, auto key) {
    return std::pair{c.first, c.second} < key;
  });
  if (it != table.end() && it->first == a && it->second == b) return it->composite;
  return std::nullopt;
}

}  // namespace

bool is_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return static_cast<uint8_t>(c) < 0x80; });
}

std::string nfc(std::string_view text) {
  if (is_ascii(text)) return std::string(text);
  thread_local std::vector<Unit> units;
  units.clear();
  for (size_t i = 0; i < text.size();) {
    const Decoded d = decode_utf8(text.substr(i));
    if (d.valid) {
      decompose(d.cp, units);
    } else {
      for (size_t k = 0; k < d.length; ++k) units.push_back({0, 0, text[i + k], true});
    }
    i += d.length;
  }
  // Canonical ordering: each run of non-starters sorted by class, stably.
  for (size_t i = 0; i < units.size();) {
    if (units[i].combining_class == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < units.size() && units[j].combining_class != 0) ++j;
    std::stable_sort(units.begin() + static_cast<std::ptrdiff_t>(i), units.begin() + static_cast<std::ptrdiff_t>(j),
                     [](const Unit& x, const Unit& y) { return x.combining_class < y.combining_class; });
    i = j;
  }
  // Canonical composition: a unit joins the last starter unless a unit between them has class 0
  // or a class not below its own (it is blocked).
  size_t kept = 0;
  std::optional<size_t> starter;
  int last_class = -1;   // the class of the last unit kept after the starter; -1: none yet
  for (size_t i = 0; i < units.size(); ++i) {
    const Unit u = units[i];
    if (starter && !u.invalid && !units[*starter].invalid &&
        (last_class == -1 || (last_class != 0 && last_class < u.combining_class))) {
      if (const auto c = compose(units[*starter].cp, u.cp)) {
        units[*starter].cp = *c;
        continue;
      }
    }
    if (u.combining_class == 0) {
      starter = kept;
      last_class = -1;
    } else {
      last_class = u.combining_class;
    }
    units[kept++] = u;
  }
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < kept; ++i) {
    if (units[i].invalid) {
      out += units[i].invalid_byte;
    } else {
      append_utf8(out, units[i].cp);
    }
  }
  return out;
}

}  // namespace yardstick::unicode
