#include "digest.h"

#include <openssl/evp.h>

namespace xi
{

std::string sha256_hex(const void *data, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), nullptr);
    static const char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < mdlen; i++) {
        out += hex[md[i] >> 4];
        out += hex[md[i] & 15];
    }
    return out;
}

std::string sha256_hex(std::string_view data)
{
    return sha256_hex(data.data(), data.size());
}

} // namespace xi
