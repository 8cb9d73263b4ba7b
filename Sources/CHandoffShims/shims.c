#include "CHandoffShims.h"
