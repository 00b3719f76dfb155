// zdm token: the Murmur3Partitioner token of a partition key, as Cassandra computes it.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "common/bytes.hpp"
#include "common/murmur3.hpp"

namespace zdm::cli {
namespace {

struct TokenOptions {
  std::vector<std::string> texts;
  std::vector<std::string> hexes;
  bool composite = false;
};

void run_token(const TokenOptions& opts) {
  std::vector<Bytes> keys;
  for (const auto& t : opts.texts) {
    auto view = as_bytes(t);
    keys.emplace_back(view.begin(), view.end());
  }
  for (const auto& h : opts.hexes) {
    auto bytes = from_hex(h);
    if (!bytes) {
      std::fprintf(stderr, "zdm token: --hex %s: %s\n", h.c_str(),
                   bytes.error().to_string().c_str());
      set_exit_code(2);
      return;
    }
    keys.push_back(std::move(*bytes));
  }
  if (keys.empty()) {
    std::fprintf(stderr, "zdm token: give at least one key with --text or --hex\n");
    set_exit_code(2);
    return;
  }
  if (opts.composite) {
    std::vector<ByteView> parts(keys.begin(), keys.end());
    auto key = composite_partition_key_checked(parts);
    if (!key) {
      std::fprintf(stderr, "zdm token: %s\n", key.error().to_string().c_str());
      set_exit_code(2);
      return;
    }
    std::printf("%lld\n", static_cast<long long>(murmur3_token(*key).value));
    return;
  }
  for (const auto& k : keys) std::printf("%lld\n", static_cast<long long>(murmur3_token(k).value));
}

}  // namespace

void add_token_command(CLI::App& app) {
  auto opts = std::make_shared<TokenOptions>();
  auto* cmd = app.add_subcommand(
      "token", "Print the Murmur3Partitioner token of partition keys, as Cassandra computes it");
  cmd->footer(
      "Each key is the serialized partition key value: for a text column its UTF-8 bytes\n"
      "(--text), for other types the value's bytes in hex (--hex; an int 42 is 0000002a).\n"
      "Tokens are printed one per line, texts first, in the order given.\n"
      "Example: zdm token --text user42 --hex 0000002a");
  cmd->add_option("--text", opts->texts, "a key given as text (its UTF-8 bytes)");
  cmd->add_option("--hex", opts->hexes, "a key given as hex bytes, e.g. 0000002a");
  cmd->add_flag("--composite", opts->composite,
                "treat the keys as the components of one multi-column partition key "
                "(texts first, then hexes) and print its single token");
  cmd->callback([opts] { run_token(*opts); });
}

}  // namespace zdm::cli
