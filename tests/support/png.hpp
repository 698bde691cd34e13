#pragma once
// Reading PNG files in tests: the header's size, and the pixels of 8-bit RGB or RGBA images
// (what gnuplot's pngcairo and Chromium's screenshots write), decoded with zlib.
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

namespace narrow::test {

struct PngImage {
  std::uint32_t width = 0, height = 0;
  int bit_depth = 0, colour_type = 0;
  std::vector<std::uint8_t> rgb;  // width * height * 3, filled by decode_png only
};

namespace png_detail {
inline std::uint32_t be32(const std::string& s, std::size_t at) {
  return (std::uint32_t(std::uint8_t(s.at(at))) << 24) | (std::uint32_t(std::uint8_t(s.at(at + 1))) << 16) |
         (std::uint32_t(std::uint8_t(s.at(at + 2))) << 8) | std::uint32_t(std::uint8_t(s.at(at + 3)));
}
}  // namespace png_detail

/// The size and format of a PNG file's content from its IHDR chunk; throws when `bytes` is not
/// a PNG.
inline PngImage png_header(const std::string& bytes) {
  static const std::string signature("\x89PNG\r\n\x1a\n", 8);
  if (bytes.size() < 33 || bytes.compare(0, 8, signature) != 0 || bytes.compare(12, 4, "IHDR") != 0)
    throw std::runtime_error("not a PNG file");
  PngImage img;
  img.width = png_detail::be32(bytes, 16);
  img.height = png_detail::be32(bytes, 20);
  img.bit_depth = std::uint8_t(bytes[24]);
  img.colour_type = std::uint8_t(bytes[25]);
  return img;
}

/// Decodes an 8-bit, non-interlaced RGB (type 2) or RGBA (type 6) PNG into RGB pixels.
inline PngImage decode_png(const std::string& bytes) {
  PngImage img = png_header(bytes);
  if (img.bit_depth != 8 || (img.colour_type != 2 && img.colour_type != 6) || bytes[28] != 0)
    throw std::runtime_error("PNG is not 8-bit non-interlaced RGB or RGBA");
  std::string idat;
  for (std::size_t at = 8; at + 8 <= bytes.size();) {
    const std::uint32_t length = png_detail::be32(bytes, at);
    const std::string type = bytes.substr(at + 4, 4);
    if (type == "IDAT") idat += bytes.substr(at + 8, length);
    if (type == "IEND") break;
    at += 12 + length;
  }
  const std::size_t channels = img.colour_type == 6 ? 4 : 3;
  const std::size_t stride = img.width * channels;
  std::vector<std::uint8_t> raw((stride + 1) * img.height);
  uLongf size = raw.size();
  if (uncompress(raw.data(), &size, reinterpret_cast<const Bytef*>(idat.data()), idat.size()) != Z_OK ||
      size != raw.size())
    throw std::runtime_error("PNG image data does not inflate to its size");
  std::vector<std::uint8_t> cur(stride), prev(stride, 0);
  img.rgb.resize(std::size_t(img.width) * img.height * 3);
  for (std::uint32_t y = 0; y < img.height; ++y) {
    const std::uint8_t filter = raw[y * (stride + 1)];
    const std::uint8_t* line = &raw[y * (stride + 1) + 1];
    for (std::size_t i = 0; i < stride; ++i) {
      const int a = i >= channels ? cur[i - channels] : 0, b = prev[i],
                c = i >= channels ? prev[i - channels] : 0;
      int p = 0;
      switch (filter) {
        case 0: p = 0; break;
        case 1: p = a; break;
        case 2: p = b; break;
        case 3: p = (a + b) / 2; break;
        case 4: {
          const int e = a + b - c, pa = std::abs(e - a), pb = std::abs(e - b), pc = std::abs(e - c);
          p = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default: throw std::runtime_error("PNG filter type is unknown");
      }
      cur[i] = std::uint8_t(line[i] + p);
    }
    for (std::uint32_t x = 0; x < img.width; ++x)
      for (int k = 0; k < 3; ++k) img.rgb[(std::size_t(y) * img.width + x) * 3 + k] = cur[x * channels + k];
    std::swap(cur, prev);
  }
  return img;
}

}  // namespace narrow::test
