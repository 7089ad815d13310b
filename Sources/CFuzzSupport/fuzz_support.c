#include "CFuzzSupport.h"
