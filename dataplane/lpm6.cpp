// lpm6 is header-only over detail::stride_trie (built in lpm4.cpp); this unit checks
// that the header stands alone and instantiates the table once for the library.
#include "dataplane/lpm6.hpp"

namespace eg::dp {
template class basic_lpm6<16>;
}  // namespace eg::dp
