#include "engine/sha256.h"

#include <gtest/gtest.h>

namespace yardstick {

TEST(Sha256, MatchesKnownDigests) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(std::string(1000, 'a')),
            "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
}

TEST(Sha256, IncrementalEqualsOneShot) {
  std::string s;
  for (int i = 0; i < 300; ++i) s += char('a' + i % 26);
  Sha256 h;
  for (size_t i = 0; i < s.size(); i += 7) h.update(std::string_view(s).substr(i, 7));
  EXPECT_EQ(h.hex_digest(), sha256_hex(s));
}

}  // namespace yardstick
