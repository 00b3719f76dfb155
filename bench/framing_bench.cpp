// Framing hot paths: frame header decode, stream-id patching, v5 segment encode/decode (200-byte
// and 64 KiB frames, with and without LZ4) and FrameDecoder throughput on small frames.
#include <string>

#include <benchmark/benchmark.h>

#include "protocol/frame_codec.hpp"
#include "protocol/frame_header.hpp"
#include "protocol/segment.hpp"

namespace zdm::protocol {
namespace {

// A frame whose body looks like CQL traffic (query text and small values): compressible.
Bytes make_frame(size_t frame_size, int16_t stream = 1) {
  static const std::string words = "SELECT name, value FROM ks.tbl WHERE id = ? AND ck >= ? ";
  Bytes body;
  for (size_t i = 0; body.size() + kFrameHeaderSize < frame_size; ++i) {
    body.push_back(i % 13 == 0 ? static_cast<uint8_t>(i)
                               : static_cast<uint8_t>(words[i % words.size()]));
  }
  return encode_frame(FrameHeader{ProtocolVersion::V5, Direction::Request, 0, StreamId{stream},
                                  Opcode::Query, 0},
                      body)
      .value();
}

Compression compression_arg(const benchmark::State& state) {
  return state.range(1) != 0 ? Compression::Lz4 : Compression::None;
}

void BM_FrameHeaderDecode(benchmark::State& state) {
  Bytes frame = make_frame(200);
  for (auto _ : state) {
    auto h = decode_frame_header(frame);
    benchmark::DoNotOptimize(h);
  }
}
BENCHMARK(BM_FrameHeaderDecode);

void BM_PatchStreamId(benchmark::State& state) {
  Bytes frame = make_frame(200);
  int16_t id = 0;
  for (auto _ : state) {
    patch_stream_id(frame.data(), StreamId{id});
    id = static_cast<int16_t>((id + 1) & 0x7FFF);
    benchmark::DoNotOptimize(frame.data());
  }
}
BENCHMARK(BM_PatchStreamId);

// args: frame size, lz4 (0/1)
void BM_SegmentEncode(benchmark::State& state) {
  Bytes frame = make_frame(static_cast<size_t>(state.range(0)));
  auto encoder = SegmentEncoder::create(compression_arg(state)).value();
  Bytes out;
  for (auto _ : state) {
    out.clear();
    auto ok = encoder.encode_message(frame, out);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(frame.size()));
}
BENCHMARK(BM_SegmentEncode)->Args({200, 0})->Args({200, 1})->Args({65536, 0})->Args({65536, 1});

void BM_SegmentDecode(benchmark::State& state) {
  const Compression c = compression_arg(state);
  Bytes frame = make_frame(static_cast<size_t>(state.range(0)));
  auto encoder = SegmentEncoder::create(c).value();
  Bytes wire;
  (void)encoder.encode_message(frame, wire);
  auto decoder = SegmentDecoder::create(c).value();
  for (auto _ : state) {
    decoder.feed(wire);
    auto f = decoder.next_frame();
    if (!f || !*f) {
      state.SkipWithError("segment did not decode");
      break;
    }
    benchmark::DoNotOptimize((*f)->data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(frame.size()));
}
BENCHMARK(BM_SegmentDecode)->Args({200, 0})->Args({200, 1})->Args({65536, 0})->Args({65536, 1});

// A socket-read-sized chunk (16 KiB) of back-to-back 120-byte v4 frames, decoded to completion.
void BM_FrameDecoderSmallFrames(benchmark::State& state) {
  Bytes one = make_frame(120);
  one[0] = version_byte(ProtocolVersion::V4);
  Bytes stream;
  size_t frames = 0;
  while (stream.size() + one.size() <= 16 * 1024) {
    stream.insert(stream.end(), one.begin(), one.end());
    ++frames;
  }
  FrameDecoder decoder;
  for (auto _ : state) {
    decoder.feed(stream);
    for (;;) {
      auto f = decoder.next();
      if (!f || !*f) break;
      benchmark::DoNotOptimize(f->value().body.data());
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(frames));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(stream.size()));
}
BENCHMARK(BM_FrameDecoderSmallFrames);

// The same stream inside self-contained v5 segments.
void BM_FrameDecoderSmallFramesInSegments(benchmark::State& state) {
  const Compression c = state.range(0) != 0 ? Compression::Lz4 : Compression::None;
  Bytes one = make_frame(120);
  auto encoder = SegmentEncoder::create(c).value();
  Bytes wire;
  size_t frames = 0;
  for (; frames * one.size() + one.size() <= 16 * 1024; ++frames) {
    (void)encoder.add_frame(one, wire);
  }
  (void)encoder.flush(wire);
  FrameDecoder decoder;
  (void)decoder.enable_segments(c);
  for (auto _ : state) {
    decoder.feed(wire);
    for (;;) {
      auto f = decoder.next();
      if (!f || !*f) break;
      benchmark::DoNotOptimize(f->value().body.data());
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(frames));
}
BENCHMARK(BM_FrameDecoderSmallFramesInSegments)->Arg(0)->Arg(1);

}  // namespace
}  // namespace zdm::protocol
