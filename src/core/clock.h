/* Wall-clock time for durations: seconds on the monotonic clock (not the time of day). */
#ifndef RELAGE_CORE_CLOCK_H
#define RELAGE_CORE_CLOCK_H

double clock_seconds(void);

#endif
