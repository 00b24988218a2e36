// `yardstick synth-model`: write a DeepSeek-architecture model with deterministic random weights.
#include <fmt/core.h>

#include "engine/error.h"
#include "harness/commands.h"
#include "harness/synth_model.h"

namespace yardstick::cli {

void register_synth_model(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "synth-model", "Write a DeepSeek-architecture model (config, tokenizer, safetensors) with deterministic random weights");
  struct Args {
    std::string out;
    std::string preset = "tiny";
    int hidden = 0, layers = 0, heads = 0, kv_heads = 0, intermediate = 0, vocab = 0, max_positions = 0;
    uint64_t seed = 0;
    std::string dtype = "bf16";
    std::string tokenizer;
    bool no_tokenizer = false;
    bool chat = false;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--out", a->out, "Model directory to write")->required();
  cmd->add_option("--preset", a->preset, "Shape: tiny (hidden 64, 2 layers; quick on a CPU), 7b or 67b")
      ->check(CLI::IsMember({"tiny", "7b", "67b"}));
  cmd->add_option("--hidden", a->hidden, "Override: hidden size");
  cmd->add_option("--layers", a->layers, "Override: number of layers");
  cmd->add_option("--heads", a->heads, "Override: attention heads");
  cmd->add_option("--kv-heads", a->kv_heads, "Override: key/value heads");
  cmd->add_option("--intermediate", a->intermediate, "Override: MLP width");
  cmd->add_option("--vocab", a->vocab, "Override: vocabulary (embedding rows; 102400 with the DeepSeek tokenizer)");
  cmd->add_option("--max-positions", a->max_positions, "Override: context window (max_position_embeddings)");
  cmd->add_option("--seed", a->seed, "Weight seed");
  cmd->add_option("--dtype", a->dtype, "Weight dtype")->check(CLI::IsMember({"f32", "bf16"}));
  auto* tok = cmd->add_option("--tokenizer", a->tokenizer,
                              "tokenizer.json or a folder with one (default: ../shared/reference/tokenizer)");
  cmd->add_flag("--no-tokenizer", a->no_tokenizer, "Write no tokenizer (a model driven by token ids)")->excludes(tok);
  cmd->add_flag("--chat", a->chat, "Copy the chat tokenizer_config.json (with the chat template), making a chat model");

  cmd->callback([a] {
    SynthOptions o;
    o.out = a->out;
    o.shape = synth_preset(a->preset);
    if (a->hidden) o.shape.hidden = a->hidden;
    if (a->layers) o.shape.layers = a->layers;
    if (a->heads) o.shape.heads = a->heads;
    if (a->kv_heads) o.shape.kv_heads = a->kv_heads;
    if (a->intermediate) o.shape.intermediate = a->intermediate;
    if (a->vocab) o.shape.vocab = a->vocab;
    if (a->max_positions) o.shape.max_positions = a->max_positions;
    o.seed = a->seed;
    o.dtype = a->dtype == "f32" ? DType::F32 : DType::BF16;
    o.chat = a->chat;
    if (!a->no_tokenizer) o.tokenizer = a->tokenizer.empty() ? default_tokenizer_dir() : std::filesystem::path(a->tokenizer);
    write_synth_model(o);
    const SynthShape& s = o.shape;
    fmt::print(stderr, "yardstick: wrote {} (hidden {}, {} layers, {} heads, {} kv heads, intermediate {}, vocab {}, {}{})\n",
               o.out.string(), s.hidden, s.layers, s.heads, s.kv_heads, s.intermediate, s.vocab, a->dtype,
               o.tokenizer ? ", tokenizer " + o.tokenizer->string() : ", no tokenizer");
  });
}

}  // namespace yardstick::cli
