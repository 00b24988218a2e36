#include "engine/torch_checkpoint.h"

#include <cstring>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <variant>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engine/error.h"

namespace yardstick {

namespace {

// ---------------------------------------------------------------- pickle values
// Only what a torch state dict contains. Values are shared because the pickle memo lets later
// opcodes refer back to (and mutate) an earlier dict or list.

struct Value;
using Ref = std::shared_ptr<Value>;

struct None {};
struct Global {
  std::string module, name;
};
struct Storage {               // a persistent id: ('storage', type, key, location, numel)
  std::string type;            // "BFloat16Storage", ...
  std::optional<DType> dtype;  // empty for storage types the engine doesn't compute with
  std::string key;             // the entry <root>/data/<key> holds its bytes
  int64_t numel = 0;
};
struct Tensor {  // torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)
  Storage storage;
  int64_t offset = 0;
  std::vector<int64_t> size, stride;
};
struct Tuple {
  std::vector<Ref> items;
};
struct List {
  std::vector<Ref> items;
};
struct Dict {  // dict and OrderedDict alike; insertion order kept
  std::vector<std::pair<Ref, Ref>> items;
};

struct Value {
  std::variant<None, bool, int64_t, double, std::string, Tuple, List, Dict, Global, Storage, Tensor>
      v;
};

template <class T>
Ref make(T x) {
  return std::make_shared<Value>(Value{std::move(x)});
}

const char* kind_name(const Value& x) {
  static constexpr const char* names[] = {"None", "bool", "int",    "float",   "str",   "tuple",
                                          "list", "dict", "global", "storage", "tensor"};
  return names[x.v.index()];
}

std::optional<DType> storage_dtype(std::string_view type) {
  if (type == "FloatStorage") return DType::F32;
  if (type == "HalfStorage") return DType::F16;
  if (type == "BFloat16Storage") return DType::BF16;
  return std::nullopt;
}

// Storage types torch.save may name. Those without a DType above are accepted by the VM and
// refused, with the tensor's name, only if a tensor actually uses one.
bool is_torch_storage(std::string_view name) {
  static constexpr std::string_view known[] = {
      "FloatStorage", "HalfStorage",  "BFloat16Storage", "DoubleStorage", "LongStorage",
      "IntStorage",   "ShortStorage", "CharStorage",     "ByteStorage",   "BoolStorage"};
  for (std::string_view k : known) {
    if (k == name) return true;
  }
  return false;
}

// ---------------------------------------------------------------- the pickle VM

class PickleVm {
 public:
  PickleVm(std::span<const std::byte> bytes, std::string where)
      : b_(bytes), where_(std::move(where)) {}

  Ref run() {
    for (;;) {
      const size_t op_at = pos_;
      const uint8_t op = u8();
      switch (op) {
        case 0x80: {  // PROTO
          const uint8_t v = u8();
          if (v < 2 || v > 5) fail(fmt::format("unsupported pickle protocol {}", v));
          break;
        }
        case 0x95: take(8); break;                                // FRAME: framing only
        case '.': return pop();                                   // STOP
        case '(': marks_.push_back(stack_.size()); break;         // MARK
        case '}': push(make(Dict{})); break;                      // EMPTY_DICT
        case ']': push(make(List{})); break;                      // EMPTY_LIST
        case ')': push(make(Tuple{})); break;                     // EMPTY_TUPLE
        case 'N': push(make(None{})); break;                      // NONE
        case 0x88: push(make(true)); break;                       // NEWTRUE
        case 0x89: push(make(false)); break;                      // NEWFALSE
        case 'J': push(make(int64_t(int32_t(le(4))))); break;     // BININT
        case 'K': push(make(int64_t(le(1)))); break;              // BININT1
        case 'M': push(make(int64_t(le(2)))); break;              // BININT2
        case 0x8a: push(make(long1(u8()))); break;                // LONG1
        case 'G': push(make(binfloat())); break;                  // BINFLOAT
        case 'X': push(make(std::string(take(le(4))))); break;    // BINUNICODE
        case 0x8c: push(make(std::string(take(u8())))); break;    // SHORT_BINUNICODE
        case 'q': memo_[uint32_t(le(1))] = top(); break;          // BINPUT
        case 'r': memo_[uint32_t(le(4))] = top(); break;          // LONG_BINPUT
        case 0x94: memo_[uint32_t(memo_.size())] = top(); break;  // MEMOIZE
        case 'h': push(memo(uint32_t(le(1)))); break;             // BINGET
        case 'j': push(memo(uint32_t(le(4)))); break;             // LONG_BINGET
        case 'c': {                                               // GLOBAL
          std::string module = line();
          push(global(std::move(module), line()));
          break;
        }
        case 0x93: {  // STACK_GLOBAL (protocol 4)
          std::string name = as_str(pop(), "STACK_GLOBAL name");
          push(global(as_str(pop(), "STACK_GLOBAL module"), std::move(name)));
          break;
        }
        case 'Q': push(persistent(pop())); break;           // BINPERSID
        case 't': push(make(Tuple{pop_to_mark()})); break;  // TUPLE
        case 0x85: push(make(Tuple{pop_n(1)})); break;      // TUPLE1
        case 0x86: push(make(Tuple{pop_n(2)})); break;      // TUPLE2
        case 0x87: push(make(Tuple{pop_n(3)})); break;      // TUPLE3
        case 'R': {                                         // REDUCE
          Ref args = pop();
          Ref fn = pop();
          push(reduce(*fn, *args));
          break;
        }
        case 's': {  // SETITEM
          Ref v = pop();
          Ref k = pop();
          as<Dict>(*top(), "SETITEM").items.emplace_back(std::move(k), std::move(v));
          break;
        }
        case 'u': {  // SETITEMS
          std::vector<Ref> kv = pop_to_mark();
          if (kv.size() % 2) fail("SETITEMS with an odd number of items");
          Dict& d = as<Dict>(*top(), "SETITEMS");
          for (size_t i = 0; i < kv.size(); i += 2) d.items.emplace_back(kv[i], kv[i + 1]);
          break;
        }
        case 'a': {  // APPEND
          Ref v = pop();
          as<List>(*top(), "APPEND").items.push_back(std::move(v));
          break;
        }
        case 'e': {  // APPENDS
          std::vector<Ref> vs = pop_to_mark();
          List& l = as<List>(*top(), "APPENDS");
          l.items.insert(l.items.end(), vs.begin(), vs.end());
          break;
        }
        case 'b': {  // BUILD
          pop();     // the state: an OrderedDict's attributes (state_dict's _metadata); not needed
          if (!std::holds_alternative<Dict>(top()->v)) {
            fail(fmt::format("BUILD on a {} is not supported", kind_name(*top())));
          }
          break;
        }
        default:
          fail(fmt::format("unsupported pickle opcode 0x{:02x}{} at byte {}", op,
                           op >= 0x20 && op < 0x7f ? fmt::format(" ('{}')", char(op)) : "", op_at));
      }
    }
  }

 private:
  [[noreturn]] void fail(std::string_view what) const {
    throw ModelFileError(fmt::format("{}: {}", where_, what));
  }

  std::string_view take(uint64_t n) {
    if (n > b_.size() - pos_) fail(fmt::format("pickle ends early (at byte {})", b_.size()));
    std::string_view s(reinterpret_cast<const char*>(b_.data() + pos_), size_t(n));
    pos_ += size_t(n);
    return s;
  }
  uint8_t u8() { return uint8_t(take(1)[0]); }
  uint64_t le(int n) {
    const std::string_view s = take(uint64_t(n));
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = v << 8 | uint8_t(s[size_t(i)]);
    return v;
  }
  int64_t long1(uint8_t n) {  // two's complement, little-endian, n bytes
    if (n > 8) fail(fmt::format("LONG1 of {} bytes is too large", n));
    if (n == 0) return 0;
    const uint64_t v = le(n);
    const int shift = 64 - 8 * n;
    return shift ? int64_t(v << shift) >> shift : int64_t(v);
  }
  double binfloat() {  // big-endian IEEE double
    const std::string_view s = take(8);
    uint64_t v = 0;
    for (char c : s) v = v << 8 | uint8_t(c);
    double d;
    std::memcpy(&d, &v, 8);
    return d;
  }

  std::string line() {  // a GLOBAL operand: text up to a newline
    const size_t start = pos_;
    while (pos_ < b_.size() && char(b_[pos_]) != '\n') ++pos_;
    if (pos_ == b_.size()) fail("pickle ends inside a GLOBAL");
    std::string s(reinterpret_cast<const char*>(b_.data() + start), pos_ - start);
    ++pos_;
    return s;
  }

  void push(Ref v) { stack_.push_back(std::move(v)); }
  const Ref& top() const {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) fail("pickle stack underflow");
    return stack_.back();
  }
  Ref pop() {
    top();
    Ref v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  std::vector<Ref> pop_n(size_t n) {
    std::vector<Ref> out(n);
    for (size_t i = n; i-- > 0;) out[i] = pop();
    return out;
  }
  std::vector<Ref> pop_to_mark() {
    if (marks_.empty()) fail("pickle has no MARK to pop to");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Ref> out(stack_.begin() + std::ptrdiff_t(m), stack_.end());
    stack_.resize(m);
    return out;
  }
  Ref memo(uint32_t key) const {
    auto it = memo_.find(key);
    if (it == memo_.end())
      fail(fmt::format("pickle refers to memo entry {} that was never stored", key));
    return it->second;
  }

  template <class T>
  T& as(Value& v, std::string_view op) const {
    if (auto* p = std::get_if<T>(&v.v)) return *p;
    fail(fmt::format("{} on a {}", op, kind_name(v)));
  }
  int64_t as_int(const Ref& v, std::string_view what) const {
    if (auto* p = std::get_if<int64_t>(&v->v)) return *p;
    fail(fmt::format("{} is a {}, not an int", what, kind_name(*v)));
  }
  std::vector<int64_t> as_ints(const Ref& v, std::string_view what) const {
    std::vector<int64_t> out;
    for (const Ref& x : as<Tuple>(*v, what).items) out.push_back(as_int(x, what));
    return out;
  }
  const std::string& as_str(const Ref& v, std::string_view what) const {
    if (auto* p = std::get_if<std::string>(&v->v)) return *p;
    fail(fmt::format("{} is a {}, not a str", what, kind_name(*v)));
  }

  // The allow-list: a state dict needs nothing else, and anything else could run code.
  Ref global(std::string module, std::string name) const {
    Global g{std::move(module), std::move(name)};
    const bool allowed = (g.module == "collections" && g.name == "OrderedDict") ||
                         (g.module == "torch._utils" &&
                          (g.name == "_rebuild_tensor_v2" || g.name == "_rebuild_parameter" ||
                           g.name == "_rebuild_parameter_with_state")) ||
                         (g.module == "torch" && is_torch_storage(g.name));
    if (!allowed)
      fail(fmt::format("pickle global '{}.{}' is not allowed (not part of a tensor state dict)",
                       g.module, g.name));
    return make(std::move(g));
  }

  Ref persistent(const Ref& pid) const {
    const std::vector<Ref>& t = as<Tuple>(*pid, "persistent id").items;
    if (t.size() != 5 || as_str(t[0], "persistent id tag") != "storage") {
      fail("persistent id is not ('storage', type, key, location, numel)");
    }
    const auto* type = std::get_if<Global>(&t[1]->v);
    if (!type || type->module != "torch") fail("persistent id names no torch storage type");
    Storage s;
    s.type = type->name;
    s.dtype = storage_dtype(s.type);
    s.key = as_str(t[2], "storage key");
    s.numel = as_int(t[4], "storage numel");
    if (s.numel < 0) fail(fmt::format("storage {} has negative size {}", s.key, s.numel));
    return make(std::move(s));
  }

  Ref reduce(const Value& fn, const Value& args_v) const {
    const auto* g = std::get_if<Global>(&fn.v);
    if (!g) fail(fmt::format("REDUCE calls a {}", kind_name(fn)));
    const auto* args_t = std::get_if<Tuple>(&args_v.v);
    if (!args_t)
      fail(fmt::format("REDUCE of {}.{} with a {} for arguments", g->module, g->name,
                       kind_name(args_v)));
    const std::vector<Ref>& args = args_t->items;
    if (g->name == "OrderedDict") {
      if (!args.empty()) fail("OrderedDict built from arguments is not supported");
      return make(Dict{});
    }
    if (g->name == "_rebuild_tensor_v2") {
      if (args.size() < 4) fail("_rebuild_tensor_v2 with too few arguments");
      const auto* s = std::get_if<Storage>(&args[0]->v);
      if (!s) fail("_rebuild_tensor_v2 of something that is not a storage");
      Tensor t{*s, as_int(args[1], "storage offset"), as_ints(args[2], "tensor size"),
               as_ints(args[3], "tensor stride")};
      return make(std::move(t));
    }
    if (g->name == "_rebuild_parameter" || g->name == "_rebuild_parameter_with_state") {
      if (args.empty() || !std::holds_alternative<Tensor>(args[0]->v))
        fail(fmt::format("{} of a non-tensor", g->name));
      return args[0];  // a Parameter is its data
    }
    fail(fmt::format("REDUCE of {}.{} is not supported", g->module, g->name));
  }

  std::span<const std::byte> b_;
  std::string where_;
  size_t pos_ = 0;
  std::vector<Ref> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint32_t, Ref> memo_;
};

bool is_contiguous(const std::vector<int64_t>& size, const std::vector<int64_t>& stride) {
  int64_t expected = 1;
  for (size_t i = size.size(); i-- > 0;) {
    if (size[i] != 1 && stride[i] != expected) return false;  // size-1 dims may have any stride
    expected *= size[i];
  }
  return true;
}

// Copies a strided tensor into dst, row-major.
void gather(const std::byte* base, size_t elem, const std::vector<int64_t>& size,
            const std::vector<int64_t>& stride, std::byte* dst) {
  std::vector<int64_t> idx(size.size(), 0);
  int64_t n = 1;
  for (int64_t s : size) n *= s;
  for (int64_t i = 0; i < n; ++i) {
    int64_t off = 0;
    for (size_t d = 0; d < size.size(); ++d) off += idx[d] * stride[d];
    std::memcpy(dst + size_t(i) * elem, base + size_t(off) * elem, elem);
    for (size_t d = size.size(); d-- > 0;) {
      if (++idx[d] < size[d]) break;
      idx[d] = 0;
    }
  }
}

}  // namespace

TorchCheckpoint::TorchCheckpoint(const std::filesystem::path& file) : map_(file) {
  const std::span<const std::byte> bytes = map_.bytes();
  auto fail = [&](std::string_view what) -> ModelFileError {
    return ModelFileError(fmt::format("{}: {}", file.string(), what));
  };
  if (bytes.size() >= 2 && bytes[0] == std::byte{0x80} && bytes[1] <= std::byte{5}) {
    throw fail(
        "legacy (pre-zip, torch < 1.6) checkpoint format is not supported; re-save it with a newer "
        "torch");
  }
  zip_ = std::make_unique<ZipArchive>(bytes, file);

  // Every entry lies under one root folder whose name varies ("archive", "pytorch_model", ...).
  std::string root;
  const ZipEntry* pkl = nullptr;
  for (const ZipEntry& e : zip_->entries()) {
    const size_t slash = e.name.find('/');
    if (slash != std::string::npos &&
        e.name.compare(slash + 1, std::string::npos, "data.pkl") == 0) {
      if (pkl)
        throw fail(fmt::format("two pickles in one archive ('{}' and '{}')", pkl->name, e.name));
      pkl = &e;
      root = e.name.substr(0, slash + 1);
    }
  }
  if (!pkl) throw fail("not a PyTorch checkpoint: the zip archive has no <root>/data.pkl");
  zip_->check_crc(*pkl);
  if (const ZipEntry* bo = zip_->find(root + "byteorder")) {
    const std::span<const std::byte> d = zip_->data(*bo);
    const std::string_view order(reinterpret_cast<const char*>(d.data()), d.size());
    if (order != "little")
      throw fail(fmt::format("byte order '{}' is not supported (only little-endian)", order));
  }

  const Ref result =
      PickleVm(zip_->data(*pkl), fmt::format("{}: {}", file.string(), pkl->name)).run();
  const auto* dict = std::get_if<Dict>(&result->v);
  if (!dict)
    throw fail(fmt::format("{} holds a {}, not a dict of tensors", pkl->name, kind_name(*result)));

  for (const auto& [key, value] : dict->items) {
    const auto* name = std::get_if<std::string>(&key->v);
    if (!name)
      throw fail(fmt::format("{} has a {} key, not a tensor name", pkl->name, kind_name(*key)));
    auto bad = [&](std::string_view what) {
      return ModelFileError(fmt::format("{}: tensor '{}': {}", file.string(), *name, what));
    };
    const auto* t = std::get_if<Tensor>(&value->v);
    if (!t) throw bad(fmt::format("is a {}, not a tensor", kind_name(*value)));
    if (!t->storage.dtype)
      throw bad(fmt::format("unsupported dtype ({}; supported: F32, F16, BF16)", t->storage.type));
    const DType dtype = *t->storage.dtype;
    const size_t elem = dtype_size(dtype);

    const std::string entry_name = root + "data/" + t->storage.key;
    const ZipEntry* entry = zip_->find(entry_name);
    if (!entry) throw bad(fmt::format("its storage '{}' is missing from the archive", entry_name));
    const std::span<const std::byte> storage = zip_->data(*entry);
    if (uint64_t(t->storage.numel) * elem != storage.size()) {
      throw bad(fmt::format("storage '{}' holds {} bytes but the pickle says {} x {} = {}",
                            entry_name, storage.size(), t->storage.numel, t->storage.type,
                            uint64_t(t->storage.numel) * elem));
    }
    if (t->size.size() != t->stride.size()) throw bad("size and stride have different ranks");
    int64_t numel = 1, last = t->offset;  // last: the highest element index the tensor reaches
    for (size_t d = 0; d < t->size.size(); ++d) {
      if (t->size[d] < 0 || t->stride[d] < 0)
        throw bad(fmt::format("bad size {} / stride {}", fmt::join(t->size, "x"),
                              fmt::join(t->stride, ",")));
      if (t->size[d] == 0) numel = 0;
      if (numel != 0 && (__builtin_mul_overflow(numel, t->size[d], &numel) ||
                         __builtin_add_overflow(last, (t->size[d] - 1) * t->stride[d], &last))) {
        throw bad("size overflows");
      }
    }
    if (t->offset < 0 || (numel > 0 && last >= t->storage.numel)) {
      throw bad(fmt::format("reaches element {} of storage '{}', which holds {} (corrupt?)", last,
                            entry_name, t->storage.numel));
    }

    TensorView v;
    v.name = *name;
    v.dtype = dtype;
    v.shape = t->size;
    v.nbytes = size_t(numel) * elem;
    const std::byte* base = storage.data() + size_t(t->offset) * elem;
    if (numel == 0 || is_contiguous(t->size, t->stride)) {
      v.data = base;
    } else {
      copies_.push_back(std::make_unique<std::byte[]>(v.nbytes));
      gather(base, elem, t->size, t->stride, copies_.back().get());
      v.data = copies_.back().get();
    }
    tensors_.push_back(std::move(v));
  }
}

}  // namespace yardstick
