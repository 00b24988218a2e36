// The parts of engine results that tests compare: generated ids and continuation log-probs,
// nested by request (and sample or continuation), so EXPECT_EQ compares them bit for bit.
#pragma once

#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "engine/requests.h"

namespace yardstick::test {

inline std::vector<std::vector<std::vector<int32_t>>> ids_of(const std::vector<GenerateResult>& res) {
  std::vector<std::vector<std::vector<int32_t>>> out;
  for (const auto& r : res) {
    out.emplace_back();
    for (const auto& c : r.samples) out.back().push_back(c.ids);
  }
  return out;
}

inline std::vector<std::vector<std::vector<float>>> logprobs_of(const std::vector<LoglikelihoodResult>& res) {
  std::vector<std::vector<std::vector<float>>> out;
  for (const auto& r : res) {
    EXPECT_TRUE(r.error.empty()) << r.error;
    out.emplace_back();
    for (const auto& c : r.scores) out.back().push_back(c.logprobs);
  }
  return out;
}

}  // namespace yardstick::test
