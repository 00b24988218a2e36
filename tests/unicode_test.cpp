// UTF-8 helpers, the Unicode property tables and the Oniguruma -> RE2 regex translation.
#include "engine/unicode.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <re2/re2.h>

#include "engine/error.h"
#include "engine/onig_regex.h"
#include "tests/error_message.h"

namespace yardstick {
namespace {

using ::testing::HasSubstr;

std::string lossy(std::string_view bytes) {
  std::string out;
  unicode::append_utf8_lossy(out, bytes);
  return out;
}

const std::string kFffd = "\xEF\xBF\xBD";

TEST(Utf8, DecodesEveryLength) {
  for (char32_t cp : {U'A', U'é', U'中', U'🦙', U'\U0010FFFF'}) {
    std::string s;
    unicode::append_utf8(s, cp);
    const auto d = unicode::decode_utf8(s);
    EXPECT_TRUE(d.valid);
    EXPECT_EQ(d.cp, cp);
    EXPECT_EQ(d.length, s.size());
  }
}

TEST(Utf8, ReplacesEachMaximalInvalidSubpartOnce) {
  EXPECT_EQ(lossy("a\xE2\x82" "b"), "a" + kFffd + "b");           // truncated 3-byte sequence
  EXPECT_EQ(lossy("\x80\x80"), kFffd + kFffd);                    // lone continuation bytes
  EXPECT_EQ(lossy("\xC0\xAF"), kFffd + kFffd);                    // overlong lead byte C0
  EXPECT_EQ(lossy("\xED\xA0\x80"), kFffd + kFffd + kFffd);        // surrogate: ED is cut at A0
  EXPECT_EQ(lossy("\xF4\x90\x80\x80"), kFffd + kFffd + kFffd + kFffd);   // above U+10FFFF
  EXPECT_EQ(lossy("\xF0\x9F\xA6"), kFffd);                        // truncated at the end
}

TEST(Utf8, NonFinalLossyKeepsAnIncompleteTail) {
  std::string out;
  EXPECT_EQ(unicode::append_utf8_lossy(out, "ab\xF0\x9F", /*final=*/false), 2u);
  EXPECT_EQ(out, "ab");
  out.clear();
  // An invalid tail is not held back: no later byte could make it valid.
  EXPECT_EQ(unicode::append_utf8_lossy(out, "ab\xF0\x41", /*final=*/false), 4u);
  EXPECT_EQ(out, "ab" + kFffd + "A");
}

TEST(UnicodeProperties, WhitespaceIsWhiteSpaceProperty) {
  for (char32_t cp : {U'\t', U'\n', U'\v', U'\f', U'\r', U' ', U'\u0085', U'\u00A0', U'\u1680',
                      U'\u2000', U'\u2028', U'\u2029', U'\u202F', U'\u3000'}) {
    EXPECT_TRUE(unicode::is_whitespace(cp)) << std::hex << static_cast<uint32_t>(cp);
  }
  // Python's str.isspace() says yes to the information separators; Oniguruma's \s does not.
  for (char32_t cp : {U'\x1C', U'\x1F', U'\u180E', U'\u200B', U'a', U'\uFEFF'}) {
    EXPECT_FALSE(unicode::is_whitespace(cp)) << std::hex << static_cast<uint32_t>(cp);
  }
}

TEST(UnicodeProperties, NumericIsNdNlNo) {
  for (char32_t cp : {U'0', U'9', U'½', U'²', U'٣', U'Ⅻ', U'①', U'３', U'〇'}) {
    EXPECT_TRUE(unicode::is_numeric(cp)) << std::hex << static_cast<uint32_t>(cp);
  }
  for (char32_t cp : {U'a', U'.', U'〈', U'Ⅎ'}) {
    EXPECT_FALSE(unicode::is_numeric(cp)) << std::hex << static_cast<uint32_t>(cp);
  }
}

bool re2_full_match(std::string_view onig_pattern, std::string_view text) {
  RE2 re(onig_to_re2(onig_pattern));
  EXPECT_TRUE(re.ok()) << re.error();
  return RE2::FullMatch(text, re);
}

TEST(OnigToRe2, WhitespaceShorthandIsUnicodeAware) {
  EXPECT_TRUE(re2_full_match("\\s", "\u3000"));
  EXPECT_TRUE(re2_full_match("\\s", "\u00A0"));
  EXPECT_TRUE(re2_full_match("\\s", "\v"));   // RE2's own \s lacks \v
  EXPECT_FALSE(re2_full_match("\\s", "\u200B"));
  EXPECT_TRUE(re2_full_match("\\S+", "ab\u200B"));
  EXPECT_FALSE(re2_full_match("\\S", "\u3000"));
  EXPECT_TRUE(re2_full_match("[\\sx]+", "x\u2028x"));
}

TEST(OnigToRe2, DigitAndWordShorthandsAreUnicodeAware) {
  EXPECT_TRUE(re2_full_match("\\d+", "12٣"));
  EXPECT_FALSE(re2_full_match("\\d", "½"));   // \d is Nd only
  EXPECT_TRUE(re2_full_match("\\w+", "héllo_中"));
  EXPECT_TRUE(re2_full_match("\\h+", "0aF"));   // Oniguruma's \h is a hex digit
}

TEST(OnigToRe2, DollarMatchesBeforeANewlineAsInOniguruma) {
  RE2 re(onig_to_re2("\\s+$"));
  re2::StringPiece m;
  ASSERT_TRUE(re.Match("a  \nb", 0, 5, RE2::UNANCHORED, &m, 1));
  // \s+ first takes "  \n", but after the newline is no line end; it backs off to "  ", which
  // ends right before the newline.
  EXPECT_EQ(m, "  ");
}

TEST(OnigToRe2, KeepsPropertyEscapesAndLiteralClasses) {
  EXPECT_TRUE(re2_full_match("\\p{N}+", "1½٣"));
  EXPECT_TRUE(re2_full_match("[!-/:-~]+", "!/:~"));
  EXPECT_TRUE(re2_full_match("[]a]+", "]a"));
  EXPECT_TRUE(re2_full_match("\\x{41}\\.", "A."));
}

TEST(OnigToRe2, RefusesWhatRe2CannotMean) {
  const auto error = [](std::string_view p) { return test::model_file_error([&] { onig_to_re2(p); }); };
  EXPECT_THAT(error("\\bfoo"), HasSubstr("word boundary"));
  EXPECT_THAT(error("[\\S]"), HasSubstr("\\S inside a character class"));
  EXPECT_THAT(error("[a[b]]"), HasSubstr("nested character class"));
  EXPECT_THAT(error("[a-z&&[^aeiou]]"), HasSubstr("intersection"));
  EXPECT_THAT(error("[abc"), HasSubstr("unterminated"));
  // Look-ahead passes translation but RE2 will not compile it.
  RE2::Options quiet;
  quiet.set_log_errors(false);
  EXPECT_FALSE(RE2(onig_to_re2("\\s+(?!\\S)"), quiet).ok());
}

}  // namespace
}  // namespace yardstick
