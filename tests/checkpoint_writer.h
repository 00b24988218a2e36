// Test helpers that write checkpoints: tiny Llama model directories (safetensors, single or
// sharded) and PyTorch-style .bin archives built byte by byte the way torch.save lays them out
// (a zip of <root>/data.pkl, a protocol-2 pickle, and <root>/data/<key> storages). Header-only:
// each test executable compiles it in.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/model_config.h"
#include "engine/safetensors.h"
#include "engine/weights.h"

namespace yardstick::test {

// ---------------------------------------------------------------- tiny Llama model directories

// config.json of a tiny GQA Llama: C=16, F=24, L=2, NH=4, NKV=2, V=32.
inline nlohmann::json tiny_llama_config_json() {
  return nlohmann::json{{"architectures", {"LlamaForCausalLM"}},
                        {"model_type", "llama"},
                        {"hidden_act", "silu"},
                        {"hidden_size", 16},
                        {"intermediate_size", 24},
                        {"num_hidden_layers", 2},
                        {"num_attention_heads", 4},
                        {"num_key_value_heads", 2},
                        {"max_position_embeddings", 64},
                        {"vocab_size", 32},
                        {"rms_norm_eps", 1e-6},
                        {"rope_theta", 10000.0},
                        {"tie_word_embeddings", false},
                        {"torch_dtype", "float32"},
                        {"bos_token_id", 0},
                        {"eos_token_id", 1}};
}

// One tensor with its own bytes.
struct OwnedTensor {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<std::byte> bytes;

  TensorToWrite to_write() const { return {name, dtype, shape, bytes}; }
};

// Random f32 values for every tensor cfg needs, reproducible from seed.
inline std::vector<OwnedTensor> random_llama_tensors(const ModelConfig& cfg, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<OwnedTensor> out;
  for (const ExpectedTensor& e : expected_tensors(cfg)) {
    int64_t n = 1;
    for (int64_t d : e.shape) n *= d;
    OwnedTensor t{e.name, DType::F32, e.shape, std::vector<std::byte>(size_t(n) * 4)};
    for (int64_t i = 0; i < n; ++i) {
      const float v = dist(rng);
      std::memcpy(t.bytes.data() + i * 4, &v, 4);
    }
    out.push_back(std::move(t));
  }
  return out;
}

inline void write_text(const std::filesystem::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary);
  out << text;
}

// Writes tensors as model.safetensors (shards == 1) or as model-0000i-of-0000N.safetensors plus
// model.safetensors.index.json, round-robin over the shards.
inline void write_safetensors_checkpoint(const std::filesystem::path& dir,
                                         const std::vector<OwnedTensor>& tensors, int shards = 1) {
  if (shards == 1) {
    std::vector<TensorToWrite> all;
    for (const OwnedTensor& t : tensors) all.push_back(t.to_write());
    write_safetensors(dir / "model.safetensors", all, {{"format", "pt"}});
    return;
  }
  std::vector<std::vector<TensorToWrite>> parts(static_cast<size_t>(shards));
  nlohmann::json weight_map = nlohmann::json::object();
  for (size_t i = 0; i < tensors.size(); ++i) {
    const size_t s = i % size_t(shards);
    parts[s].push_back(tensors[i].to_write());
    weight_map[tensors[i].name] = fmt::format("model-{:05}-of-{:05}.safetensors", s + 1, shards);
  }
  for (size_t s = 0; s < parts.size(); ++s) {
    write_safetensors(dir / fmt::format("model-{:05}-of-{:05}.safetensors", s + 1, shards),
                      parts[s]);
  }
  write_text(dir / "model.safetensors.index.json",
             nlohmann::json{{"metadata", {{"total_size", 0}}}, {"weight_map", weight_map}}.dump(2));
}

// ---------------------------------------------------------------- zip archives

struct ZipMember {
  std::string name;
  std::string data;
  bool deflate = false;
};

inline void put_le(std::string& out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out.push_back(char(v >> (8 * i) & 0xff));
}

inline std::string raw_deflate(const std::string& data) {
  z_stream zs{};
  deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, uLong(data.size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = uInt(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = uInt(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// A zip archive as torch.save writes one: local headers whose extra field pads the data to
// 64-byte alignment, a central directory, and the end record. zip64 = true writes every size and
// offset through zip64 extra fields and records, as a > 4 GB archive must.
inline std::string zip_archive(const std::vector<ZipMember>& members, bool zip64 = false) {
  std::string out, central;
  for (const ZipMember& m : members) {
    const std::string stored = m.deflate ? raw_deflate(m.data) : m.data;
    const uint32_t crc =
        uint32_t(crc32(0, reinterpret_cast<const Bytef*>(m.data.data()), uInt(m.data.size())));
    const uint64_t local = out.size();
    size_t pad = (64 - (local + 30 + m.name.size() + 4) % 64) % 64;  // torch's "FB" padding
    put_le(out, 0x04034b50, 4);
    put_le(out, 20, 2);
    put_le(out, 0, 2);
    put_le(out, m.deflate ? 8 : 0, 2);
    put_le(out, 0, 4);  // time, date
    put_le(out, crc, 4);
    put_le(out, stored.size(), 4);
    put_le(out, m.data.size(), 4);
    put_le(out, m.name.size(), 2);
    put_le(out, 4 + pad, 2);
    out += m.name;
    put_le(out, 0x4246, 2);
    put_le(out, pad, 2);
    out.append(pad, 'Z');
    out += stored;

    std::string extra;
    if (zip64) {
      put_le(extra, 0x0001, 2);
      put_le(extra, 24, 2);
      put_le(extra, m.data.size(), 8);
      put_le(extra, stored.size(), 8);
      put_le(extra, local, 8);
    }
    put_le(central, 0x02014b50, 4);
    put_le(central, 45, 2);
    put_le(central, 45, 2);
    put_le(central, 0, 2);
    put_le(central, m.deflate ? 8 : 0, 2);
    put_le(central, 0, 4);
    put_le(central, crc, 4);
    put_le(central, zip64 ? 0xffffffff : stored.size(), 4);
    put_le(central, zip64 ? 0xffffffff : m.data.size(), 4);
    put_le(central, m.name.size(), 2);
    put_le(central, extra.size(), 2);
    put_le(central, 0, 2);  // comment
    put_le(central, 0, 2);  // disk
    put_le(central, 0, 2);  // internal attributes
    put_le(central, 0, 4);  // external attributes
    put_le(central, zip64 ? 0xffffffff : local, 4);
    central += m.name;
    central += extra;
  }
  const uint64_t cd_offset = out.size();
  out += central;
  if (zip64) {
    const uint64_t z = out.size();
    put_le(out, 0x06064b50, 4);
    put_le(out, 44, 8);
    put_le(out, 45, 2);
    put_le(out, 45, 2);
    put_le(out, 0, 4);
    put_le(out, 0, 4);
    put_le(out, members.size(), 8);
    put_le(out, members.size(), 8);
    put_le(out, central.size(), 8);
    put_le(out, cd_offset, 8);
    put_le(out, 0x07064b50, 4);
    put_le(out, 0, 4);
    put_le(out, z, 8);
    put_le(out, 1, 4);
  }
  put_le(out, 0x06054b50, 4);
  put_le(out, 0, 2);
  put_le(out, 0, 2);
  put_le(out, zip64 ? 0xffff : members.size(), 2);
  put_le(out, zip64 ? 0xffff : members.size(), 2);
  put_le(out, zip64 ? 0xffffffff : central.size(), 4);
  put_le(out, zip64 ? 0xffffffff : cd_offset, 4);
  put_le(out, 0, 2);
  return out;
}

// ---------------------------------------------------------------- torch pickles

// One tensor of a state dict, as _rebuild_tensor_v2 sees it.
struct PickledTensor {
  std::string name;
  std::string storage_type;  // "FloatStorage", "BFloat16Storage", ...
  std::string key;           // storage key: its bytes are <root>/data/<key>
  int64_t storage_numel = 0;
  int64_t offset = 0;
  std::vector<int64_t> size, stride;
};

// Protocol-2 opcodes emitted the way torch.save's pickler emits them for a state dict.
class TorchPickler {
 public:
  std::string out;

  void op(char c) { out.push_back(c); }
  void str(const std::string& s) {
    op('X');
    put_le(out, s.size(), 4);
    out += s;
    put();
  }
  void integer(int64_t v) {
    if (v >= 0 && v < 256) {
      op('K');
      put_le(out, uint64_t(v), 1);
    } else if (v >= 0 && v < 65536) {
      op('M');
      put_le(out, uint64_t(v), 2);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      op('J');
      put_le(out, uint64_t(v), 4);
    } else {
      op('\x8a');
      out.push_back(8);
      put_le(out, uint64_t(v), 8);
    }
  }
  // Protocol 4 spells globals as two strings and STACK_GLOBAL instead of GLOBAL.
  bool stack_global = false;

  // GLOBAL the first time, BINGET of its memo slot after that (as pickle does).
  void global(const std::string& module, const std::string& name) {
    const std::string key = module + "\n" + name + "\n";
    if (auto it = memo_.find(key); it != memo_.end()) {
      op(it->second < 256 ? 'h' : 'j');  // BINGET / LONG_BINGET
      put_le(out, it->second, it->second < 256 ? 1 : 4);
      return;
    }
    if (stack_global) {
      str(module);
      str(name);
      op('\x93');
    } else {
      op('c');
      out += key;
    }
    memo_[key] = next_;
    put();
  }
  void put() {  // BINPUT / LONG_BINPUT into the next memo slot
    op(next_ < 256 ? 'q' : 'r');
    put_le(out, next_, next_ < 256 ? 1 : 4);
    ++next_;
  }
  void int_tuple(const std::vector<int64_t>& v) {
    if (v.empty()) {
      op(')');
      return;
    }
    if (v.size() > 3) op('(');
    for (int64_t x : v) integer(x);
    op(v.size() == 1 ? '\x85' : v.size() == 2 ? '\x86' : v.size() == 3 ? '\x87' : 't');
    put();
  }
  void empty_ordered_dict() {
    global("collections", "OrderedDict");
    op(')');
    op('R');
    put();
  }
  void tensor(const PickledTensor& t) {
    global("torch._utils", "_rebuild_tensor_v2");
    op('(');
    op('(');
    str("storage");
    global("torch", t.storage_type);
    str(t.key);
    str("cpu");
    integer(t.storage_numel);
    op('t');
    put();
    op('Q');  // BINPERSID
    integer(t.offset);
    int_tuple(t.size);
    int_tuple(t.stride);
    op('\x89');            // requires_grad False
    empty_ordered_dict();  // backward hooks
    op('t');
    put();
    op('R');
    put();
  }

 private:
  std::map<std::string, uint32_t> memo_;
  uint32_t next_ = 0;
};

// data.pkl of a state dict: an OrderedDict with state_dict()'s _metadata attribute (set by BUILD),
// or a plain dict as transformers' sharded save writes.
inline std::string torch_state_dict_pickle(const std::vector<PickledTensor>& tensors,
                                           bool ordered = true, int protocol = 2) {
  TorchPickler p;
  p.stack_global = protocol >= 4;
  p.op('\x80');
  p.out.push_back(char(protocol));
  if (ordered) {
    p.empty_ordered_dict();
  } else {
    p.op('}');
    p.put();
  }
  p.op('(');
  for (const PickledTensor& t : tensors) {
    p.str(t.name);
    p.tensor(t);
  }
  p.op('u');      // SETITEMS
  if (ordered) {  // {'_metadata': OrderedDict({'': {'version': 1}})}
    p.op('}');
    p.str("_metadata");
    p.empty_ordered_dict();
    p.str("");
    p.op('}');
    p.str("version");
    p.integer(1);
    p.op('s');
    p.op('s');
    p.op('s');
    p.op('b');  // BUILD
  }
  p.op('.');
  return p.out;
}

// The members of a torch.save archive under root/, with storages keyed "0", "1", ...
inline std::vector<ZipMember> torch_archive_members(const std::string& root,
                                                    const std::string& pickle,
                                                    const std::vector<std::string>& storages,
                                                    bool deflate = false) {
  std::vector<ZipMember> m = {{root + "/data.pkl", pickle, deflate},
                              {root + "/.format_version", "1"},
                              {root + "/byteorder", "little"}};
  for (size_t i = 0; i < storages.size(); ++i) {
    m.push_back({root + "/data/" + std::to_string(i), storages[i], deflate});
  }
  m.push_back({root + "/version", "3\n"});
  return m;
}

template <class T>
std::string bytes_of(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

}  // namespace yardstick::test
