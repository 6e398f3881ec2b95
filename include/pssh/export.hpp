// Symbol visibility for the pssh library: only what carries PSSH_API is exported.
#pragma once

#if defined(_WIN32)
#define PSSH_API
#else
#define PSSH_API __attribute__((visibility("default")))
#endif
