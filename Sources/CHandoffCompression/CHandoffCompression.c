#include "CHandoffCompression.h"
