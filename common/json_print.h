/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* JSON text with exact integers. */
#ifndef GREETER_JSON_PRINT_H
#define GREETER_JSON_PRINT_H

#include <cjson/cJSON.h>

/*
 * cJSON_PrintUnformatted(), except that numbers print exactly: integral ones
 * as integers (cJSON writes 1795535977611690 as 1.79553597761169e+15, which
 * readers that want an integer reject), others so that they read back the
 * same. Free with free().
 */
char *greeter_json_print(const cJSON *obj);

#endif
