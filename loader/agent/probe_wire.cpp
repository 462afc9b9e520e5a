#include "probe_wire.h"

#include <cstring>

namespace xi
{

namespace
{
constexpr uint8_t kMagic[4] = {'X', 'I', 'P', 'R'};
constexpr uint8_t kVersion = 1;

void put16(uint8_t *p, uint16_t v)
{
    p[0] = uint8_t(v >> 8);
    p[1] = uint8_t(v);
}
void put32(uint8_t *p, uint32_t v)
{
    put16(p, uint16_t(v >> 16));
    put16(p + 2, uint16_t(v));
}
uint16_t get16(const uint8_t *p)
{
    return uint16_t(p[0] << 8 | p[1]);
}
uint32_t get32(const uint8_t *p)
{
    return uint32_t(get16(p)) << 16 | get16(p + 2);
}
} // namespace

std::vector<uint8_t> encode_probe(const ProbeMessage &m)
{
    std::vector<uint8_t> b(kProbeWireSize, 0);
    std::memcpy(b.data(), kMagic, 4);
    b[4] = kVersion;
    b[5] = static_cast<uint8_t>(m.type);
    put16(&b[8], m.from);
    put16(&b[10], m.to);
    put32(&b[12], m.seq);
    for (size_t i = 0; i < XI_MAX_NODES; i++)
        if (m.down.test(i))
            b[16 + i / 8] |= uint8_t(1u << (i % 8));
    return b;
}

std::optional<ProbeMessage> decode_probe(const uint8_t *d, size_t len)
{
    if (len < kProbeWireSize || std::memcmp(d, kMagic, 4) != 0 || d[4] < kVersion)
        return std::nullopt;
    ProbeMessage m;
    if (d[5] != uint8_t(ProbeMessage::Type::Probe) && d[5] != uint8_t(ProbeMessage::Type::Answer))
        return std::nullopt;
    m.type = static_cast<ProbeMessage::Type>(d[5]);
    m.from = get16(&d[8]);
    m.to = get16(&d[10]);
    if (m.from >= XI_MAX_NODES || m.to >= XI_MAX_NODES)
        return std::nullopt;
    m.seq = get32(&d[12]);
    for (size_t i = 0; i < XI_MAX_NODES; i++)
        if (d[16 + i / 8] & (1u << (i % 8)))
            m.down.set(i);
    return m;
}

} // namespace xi
