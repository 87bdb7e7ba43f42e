/*
 * featd_resp.c — libfeatd, reading a featd.v1.Response: bounds-checked
 * accessors of a GetOnlineFeatures answer (featd_resp_*) and the names of
 * the Response's enums (featd_status_name, featd_error_code_name,
 * featd_body_name). API in featd_client.h; pure and thread-safe.
 */
#include "featd_client.h"

#include <string.h>

/* ---- response accessors ---- */

int featd_resp_feature_index(const Featd__V1__GetOnlineFeaturesResponse *r, const char *name)
{
    if (r == NULL || name == NULL) {
        return -1;
    }
    for (size_t i = 0; i < r->n_feature_names; i++) {
        if (r->feature_names[i] != NULL && strcmp(r->feature_names[i], name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static const Featd__V1__FeatureVector *result_at(const Featd__V1__GetOnlineFeaturesResponse *r,
                                                 size_t feature)
{
    if (r == NULL || feature >= r->n_results) {
        return NULL;
    }
    return r->results[feature];
}

const Featd__V1__Value *featd_resp_value(const Featd__V1__GetOnlineFeaturesResponse *r,
                                         size_t feature, size_t row)
{
    const Featd__V1__FeatureVector *fv = result_at(r, feature);
    return fv != NULL && row < fv->n_values ? fv->values[row] : NULL;
}

int featd_resp_status(const Featd__V1__GetOnlineFeaturesResponse *r, size_t feature, size_t row)
{
    const Featd__V1__FeatureVector *fv = result_at(r, feature);
    return fv != NULL && row < fv->n_statuses ? (int)fv->statuses[row] : -1;
}

int64_t featd_resp_event_ts(const Featd__V1__GetOnlineFeaturesResponse *r, size_t feature,
                            size_t row)
{
    const Featd__V1__FeatureVector *fv = result_at(r, feature);
    return fv != NULL && row < fv->n_event_timestamps_us ? fv->event_timestamps_us[row] : 0;
}

/* ---- names of the response's enums ---- */

const char *featd_status_name(int status)
{
    switch (status) {
    case FEATD__V1__FIELD_STATUS__INVALID: return "INVALID";
    case FEATD__V1__FIELD_STATUS__PRESENT: return "PRESENT";
    case FEATD__V1__FIELD_STATUS__NULL_VALUE: return "NULL_VALUE";
    case FEATD__V1__FIELD_STATUS__NOT_FOUND: return "NOT_FOUND";
    case FEATD__V1__FIELD_STATUS__OUTSIDE_MAX_AGE: return "OUTSIDE_MAX_AGE";
    default: return "?";
    }
}

const char *featd_error_code_name(int code)
{
    switch (code) {
    case FEATD__V1__ERROR_CODE__OK: return "OK";
    case FEATD__V1__ERROR_CODE__INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case FEATD__V1__ERROR_CODE__UNAVAILABLE: return "UNAVAILABLE";
    case FEATD__V1__ERROR_CODE__DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case FEATD__V1__ERROR_CODE__RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case FEATD__V1__ERROR_CODE__INTERNAL: return "INTERNAL";
    case FEATD__V1__ERROR_CODE__UNAUTHENTICATED: return "UNAUTHENTICATED";
    case FEATD__V1__ERROR_CODE__PERMISSION_DENIED: return "PERMISSION_DENIED";
    default: return "UNKNOWN_ERROR_CODE";
    }
}

const char *featd_body_name(int body_case)
{
    switch (body_case) {
    case FEATD__V1__RESPONSE__BODY__NOT_SET: return "none";
    case FEATD__V1__RESPONSE__BODY_ERROR: return "error";
    case FEATD__V1__RESPONSE__BODY_GET_ONLINE_FEATURES: return "get_online_features";
    case FEATD__V1__RESPONSE__BODY_PING: return "ping";
    case FEATD__V1__RESPONSE__BODY_LIST_FEATURE_VIEWS: return "list_feature_views";
    case FEATD__V1__RESPONSE__BODY_SERVER_INFO: return "server_info";
    case FEATD__V1__RESPONSE__BODY_WRITE_FEATURES: return "write_features";
    case FEATD__V1__RESPONSE__BODY_AUTH: return "auth";
    default: return "unknown";
    }
}
