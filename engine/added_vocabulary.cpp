#include "engine/added_vocabulary.h"

#include <algorithm>

namespace yardstick {

AddedVocabulary::AddedVocabulary(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
  for (uint32_t i = 0; i < tokens_.size(); ++i) {
    const std::string& content = tokens_[i].content;
    if (content.empty()) continue;   // HF never matches an empty token
    Pass& pass = tokens_[i].normalized ? normalized_pass_ : raw_pass_;
    pass.by_first_byte[static_cast<uint8_t>(content[0])].push_back(i);
    pass.empty = false;
  }
  for (Pass* pass : {&raw_pass_, &normalized_pass_}) {
    for (auto& candidates : pass->by_first_byte) {
      std::stable_sort(candidates.begin(), candidates.end(), [&](uint32_t a, uint32_t b) {
        return tokens_[a].content.size() > tokens_[b].content.size();
      });
    }
  }
}

const AddedToken* AddedVocabulary::find(std::string_view content) const {
  for (const auto& t : tokens_) {
    if (t.content == content) return &t;
  }
  return nullptr;
}

const AddedToken* AddedVocabulary::find(int32_t id) const {
  for (const auto& t : tokens_) {
    if (t.id == id) return &t;
  }
  return nullptr;
}

void AddedVocabulary::split_pass(const Pass& pass, std::string_view text,
                                 std::vector<Segment>& out) const {
  size_t plain_start = 0;
  for (size_t i = 0; i < text.size();) {
    const uint32_t* match = nullptr;
    for (const uint32_t& t : pass.by_first_byte[static_cast<uint8_t>(text[i])]) {
      if (text.substr(i).starts_with(tokens_[t].content)) {
        match = &t;   // the longest, since candidates are sorted longest first
        break;
      }
    }
    if (!match) {
      ++i;
      continue;
    }
    if (plain_start != i) out.push_back({text.substr(plain_start, i - plain_start), std::nullopt});
    const AddedToken& token = tokens_[*match];
    out.push_back({text.substr(i, token.content.size()), token.id});
    i += token.content.size();
    plain_start = i;
  }
  if (plain_start < text.size()) out.push_back({text.substr(plain_start), std::nullopt});
}

void AddedVocabulary::split(std::string_view text, std::vector<Segment>& out) const {
  out.clear();
  if (text.empty()) return;
  if (raw_pass_.empty) {
    split_pass(normalized_pass_, text, out);
    return;
  }
  std::vector<Segment> first;
  split_pass(raw_pass_, text, first);
  for (const Segment& s : first) {
    if (s.token) {
      out.push_back(s);
    } else {
      split_pass(normalized_pass_, s.text, out);
    }
  }
}

}  // namespace yardstick
