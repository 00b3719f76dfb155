#include "common/md5.hpp"

#include <gtest/gtest.h>

namespace zdm {
namespace {

std::string hex(const Result<Md5Digest>& d) {
  return d ? to_hex(ByteView(d->data(), d->size())) : "error: " + d.error().to_string();
}

// RFC 1321 test suite values.
TEST(Md5, DigestsRfc1321Vectors) {
  EXPECT_EQ(hex(md5(std::string_view(""))), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(hex(md5(std::string_view("abc"))), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(hex(md5(std::string_view("message digest"))), "f96b697d7cb7938d525a2f31aaf161d0");
  EXPECT_EQ(hex(md5(std::string_view("12345678901234567890123456789012345678901234567890123456789"
                                     "012345678901234567890"))),
            "57edf4a22be3c955ac49da2e2107b67a");
}

TEST(Md5, IncrementalDigestEqualsOneShotOverConcatenation) {
  Md5Hasher h;
  h.update(std::string_view("ks"));
  h.update(std::string_view("SELECT * FROM t"));
  EXPECT_EQ(hex(h.finish()), "125e492ea51717990eba4738bbb59bdb");
  EXPECT_EQ(hex(md5(std::string_view("ksSELECT * FROM t"))), "125e492ea51717990eba4738bbb59bdb");
}

TEST(Md5, FinishResetsForTheNextDigest) {
  Md5Hasher h;
  h.update(std::string_view("abc"));
  ASSERT_TRUE(h.finish().has_value());
  h.update(std::string_view("The quick brown fox jumps over the lazy dog"));
  EXPECT_EQ(hex(h.finish()), "9e107d9d372bb6826bd81d3542a419d6");
}

TEST(Md5, MovedFromHasherFailsInsteadOfCrashing) {
  Md5Hasher a;
  Md5Hasher b(std::move(a));
  a.update(std::string_view("x"));  // NOLINT(bugprone-use-after-move): checking defined behaviour
  EXPECT_FALSE(a.finish().has_value());
  EXPECT_EQ(hex(b.finish()), "d41d8cd98f00b204e9800998ecf8427e");
}

}  // namespace
}  // namespace zdm
