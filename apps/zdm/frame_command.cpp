// zdm frame decode: decode CQL frames given in hex and print them for humans.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "commands.hpp"
#include "common/bytes.hpp"
#include "protocol/compression.hpp"
#include "protocol/frame_codec.hpp"
#include "protocol/messages.hpp"

namespace zdm::cli {
namespace {

struct FrameOptions {
  std::string hex;
  std::string compression = "none";
  bool segments = false;
};

std::string strip_spaces(const std::string& in) {
  std::string out;
  for (char c : in) {
    if (c != ' ' && c != '\n' && c != '\r' && c != '\t' && c != ':') out.push_back(c);
  }
  return out;
}

int decode_frames(const FrameOptions& opts) {
  std::string hex = opts.hex;
  if (hex.empty() || hex == "-") {
    hex.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  auto bytes = from_hex(strip_spaces(hex));
  if (!bytes) {
    std::fprintf(stderr, "zdm frame decode: input is not hex: %s\n",
                 bytes.error().to_string().c_str());
    return 2;
  }
  auto compression = opts.compression == "none"
                         ? Result<protocol::Compression>(protocol::Compression::None)
                         : protocol::compression_from_name(opts.compression);
  if (!compression) {
    std::fprintf(stderr, "zdm frame decode: --compression %s: %s\n", opts.compression.c_str(),
                 compression.error().to_string().c_str());
    return 2;
  }
  protocol::FrameDecoder decoder;
  if (opts.segments) {
    auto on = decoder.enable_segments(*compression);
    if (!on) {
      std::fprintf(stderr, "zdm frame decode: %s\n", on.error().to_string().c_str());
      return 2;
    }
  } else {
    decoder.set_compression(*compression);
  }
  decoder.feed(*bytes);
  int frames = 0;
  while (true) {
    auto frame = decoder.next();
    if (!frame) {
      std::fprintf(stderr, "zdm frame decode: frame %d: %s\n", frames + 1,
                   frame.error().to_string().c_str());
      return 1;
    }
    if (!*frame) break;
    ++frames;
    const auto& h = (*frame)->header;
    std::printf("frame %d: %s %s stream=%d flags=0x%02x opcode=%s body=%u bytes\n", frames,
                std::string(protocol::protocol_version_name(h.version)).c_str(),
                h.direction == protocol::Direction::Request ? "request" : "response",
                h.stream.value, h.flags, std::string(protocol::opcode_name(h.opcode)).c_str(),
                h.body_length);
    auto message = protocol::decode_message(h, (*frame)->body);
    if (!message) {
      std::printf("  cannot decode body: %s\n", message.error().to_string().c_str());
      return 1;
    }
    std::printf("  %s\n", protocol::describe(*message).c_str());
  }
  if (decoder.buffered_bytes() != 0) {
    std::fprintf(stderr, "zdm frame decode: %zu trailing bytes do not make a whole frame\n",
                 decoder.buffered_bytes());
    return 1;
  }
  if (frames == 0) {
    std::fprintf(stderr, "zdm frame decode: no complete frame in the input\n");
    return 1;
  }
  return 0;
}

}  // namespace

void add_frame_command(CLI::App& app) {
  auto* frame = app.add_subcommand("frame", "Work with raw CQL native protocol frames.");
  frame->require_subcommand(1);
  auto opts = std::make_shared<FrameOptions>();
  auto* decode = frame->add_subcommand("decode", "Decode frames given in hex and print them");
  decode->footer(
      "Decodes one or more frames (v3, v4, v5, DSE_V1, DSE_V2; requests or responses) and\n"
      "prints each header and message. Paste a TCP payload from a packet capture, or pipe it:\n"
      "reads standard input when HEX is '-' or absent.\n"
      "Example: zdm frame decode 040000010500000000   (a v4 OPTIONS request)");
  decode->add_option("hex", opts->hex, "the frames' bytes in hex (spaces and colons ignored)");
  decode
      ->add_option("--compression", opts->compression,
                   "body compression negotiated in STARTUP: none, lz4 or snappy")
      ->capture_default_str();
  decode->add_flag("--segments", opts->segments,
                   "input is v5 segment framing (after READY/AUTHENTICATE); --compression lz4 "
                   "for compressed segments");
  decode->callback([opts] { set_exit_code(decode_frames(*opts)); });
}

}  // namespace zdm::cli
