/* sinks: see sinks.h.
 *
 * The hook's standard input is one end of a socketpair rather than a pipe: writing to it with
 * MSG_NOSIGNAL cannot raise SIGPIPE when the hook exits without reading, whatever the process's
 * signal dispositions. The child calls only async-signal-safe functions between fork and exec
 * (the process has other threads), so its environment is built before the fork. */
#include "ml/sinks.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/timeutil.h"

extern char **environ;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

/* Report one action to the audit callback: {"kind", "instance", "ok", "status"|"error", "record"}. */
static void audit(const struct sinks *s, const char *action, const char *subject, const char *kind, const char *instance,
		  bool ok, long status, const char *error, const char *record)
{
	json_t *j;
	char *text;

	if (s->o.audit == NULL)
		return;
	j = json_pack("{s:s,s:s,s:b}", "kind", kind, "instance", instance, "ok", ok);
	if (j == NULL)
		return;
	if (error != NULL)
		json_object_set_new(j, "error", json_string(error));
	else if (status > 0)
		json_object_set_new(j, "status", json_integer(status));
	if (record != NULL)
		json_object_set_new(j, "record", json_loads(record, 0, NULL));
	text = json_dumps(j, JSON_COMPACT);
	if (text != NULL)
		s->o.audit(s->o.audit_data, action, subject, text);
	free(text);
	json_decref(j);
}

static void curl_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void sinks_global_init(void)
{
	pthread_once(&curl_once, curl_init);
}

void sinks_init(struct sinks *s, const struct sink_options *o)
{
	memset(s, 0, sizeof *s);
	s->o = *o;
	if (s->o.timeout_ms <= 0)
		s->o.timeout_ms = 5000;
	if (s->o.retries == 0)
		s->o.retries = 3;
	if (s->o.retries < 0)
		s->o.retries = 0;
	if (s->o.backoff_ms <= 0)
		s->o.backoff_ms = 500;
	if (s->o.hook_timeout_ms <= 0)
		s->o.hook_timeout_ms = 30000;
}

/* ---- HTTP ---- */

static size_t discard(char *data, size_t size, size_t n, void *user)
{
	(void)data;
	(void)user;
	return size * n;
}

int sink_post_json(const char *url, const char *json, const struct sink_options *o, long *status, struct pat_err *err)
{
	int attempts = 1 + (o->retries > 0 ? o->retries : 0), rv = PAT_EIO;
	int64_t wait = o->backoff_ms > 0 ? o->backoff_ms : 500;
	struct curl_slist *headers = NULL;
	CURL *curl;

	*status = 0;
	sinks_global_init();
	if ((curl = curl_easy_init()) == NULL ||
	    (headers = curl_slist_append(NULL, "Content-Type: application/json")) == NULL) {
		curl_easy_cleanup(curl);
		return err_set(err, PAT_ENOMEM, "out of memory");
	}
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)(o->timeout_ms > 0 ? o->timeout_ms : 5000));
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "pat-anomaly");
	for (int i = 0; i < attempts; i++) {
		CURLcode c;

		if (i > 0) {
			log_info("retrying a POST", "url=%s attempt=%d wait_ms=%lld", url, i + 1, (long long)wait);
			time_sleep_ms(wait);
			wait = wait * 2 < 30000 ? wait * 2 : 30000;
		}
		c = curl_easy_perform(curl);
		if (c != CURLE_OK) {
			rv = err_set(err, c == CURLE_OPERATION_TIMEDOUT ? PAT_ETIMEDOUT : PAT_EIO, "POST %s: %s", url,
				     curl_easy_strerror(c));
			continue;
		}
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
		if (*status >= 200 && *status < 300) {
			rv = PAT_OK;
			break;
		}
		rv = err_set(err, PAT_EREMOTE, "POST %s: HTTP status %ld", url, *status);
		if (*status < 500 && *status != 429)
			break; /* asking again will not help */
	}
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	return rv;
}

/* ---- Alertmanager ---- */

int sink_alert_json(const struct anomaly *a, const char *instance, char **json, struct pat_err *err)
{
	char summary[512], time[TIME_RFC3339_SIZE], *text;
	struct buf description = BUF_INIT;
	json_t *doc;

	*json = NULL;
	anomaly_summary(a, instance, summary, sizeof summary);
	time_format_rfc3339(time, sizeof time, a->window.end_ms);
	buf_printf(&description, "Pat's anomaly detector scored a %.0f s window of %s at %.3f against a baseline of %zu windows.",
		   a->window.seconds, instance, a->score, a->baseline_windows);
	for (int f = 0; f < WINDOW_FEATURES; f++)
		buf_printf(&description, " %s=%.6g (baseline %.6g, deviation %.1f);", window_feature_names[f], a->window.f[f],
			   a->baseline[f], a->deviation[f]);
	doc = json_pack("[{s:{s:s, s:s, s:s, s:s}, s:{s:s, s:s}, s:s}]", "labels", "alertname", "PatAnomaly", "kind",
			anomaly_kind_names[a->kind], "severity", anomaly_severity(a), "instance", instance, "annotations",
			"summary", summary, "description", buf_str(&description), "startsAt", time);
	buf_free(&description);
	text = doc != NULL ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6)) : NULL;
	json_decref(doc);
	if (text != NULL) {
		*json = mem_strdup(text);
		free(text);
	}
	return *json != NULL ? PAT_OK : err_set(err, PAT_ENOMEM, "cannot build the alert (out of memory, or bad UTF-8)");
}

/* ---- hooks ---- */

int sink_run_hook(const char *path, const char *json, const char *kind, int timeout_ms, int *exit_status,
		  struct pat_err *err)
{
	int64_t deadline = time_mono_ms() + timeout_ms;
	size_t n_env = 0, len = strlen(json), off = 0;
	char **env, *kind_var = NULL;
	char *const argv[] = { (char *)path, NULL };
	int sv[2], status, rv = PAT_OK;
	pid_t pid;

	*exit_status = -1;
	while (environ[n_env] != NULL)
		n_env++;
	env = mem_calloc(n_env + 2, sizeof *env);
	if (kind != NULL)
		kind_var = str_printf("PAT_ANOMALY_KIND=%s", kind);
	if (env == NULL || (kind != NULL && kind_var == NULL)) {
		mem_free(env);
		mem_free(kind_var);
		return err_set(err, PAT_ENOMEM, "out of memory");
	}
	n_env = 0;
	for (char **e = environ; *e != NULL; e++)
		if (strncmp(*e, "PAT_ANOMALY_KIND=", 17) != 0)
			env[n_env++] = *e;
	if (kind_var != NULL)
		env[n_env++] = kind_var;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		rv = err_set_errno(err, PAT_EIO, errno, "hook %s: socketpair", path);
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		rv = err_set_errno(err, PAT_EIO, errno, "hook %s: fork", path);
		close(sv[0]);
		close(sv[1]);
		goto out;
	}
	if (pid == 0) {
		/* The child: stdin from the socket, stdout to our stderr (stdout is not the hook's to use). */
		if (dup2(sv[1], 0) < 0 || dup2(2, 1) < 0)
			_exit(126);
		execve(path, argv, env);
		_exit(127);
	}
	close(sv[1]);
	fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
	while (off < len) {
		struct pollfd p = { sv[0], POLLOUT, 0 };
		int64_t left = deadline - time_mono_ms();
		ssize_t w;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		w = send(sv[0], json + off, len - off, MSG_NOSIGNAL);
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			break; /* it stopped reading: its exit status tells the rest */
		if (w > 0)
			off += (size_t)w;
	}
	close(sv[0]);
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			rv = err_set_errno(err, PAT_EIO, errno, "hook %s: waitpid", path);
			goto out;
		}
		if (time_mono_ms() >= deadline) {
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			rv = err_set(err, PAT_ETIMEDOUT, "hook %s did not finish within %d ms; killed", path, timeout_ms);
			break;
		}
		time_sleep_ms(10);
	}
	*exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (rv == PAT_OK && *exit_status == 127)
		rv = err_set(err, PAT_EIO, "hook %s could not be run (exit status 127: missing or not executable?)", path);
out:
	mem_free(env);
	mem_free(kind_var);
	return rv;
}

/* ---- dispatch ---- */

int sinks_dispatch(struct sinks *s, const struct anomaly *a, const char *instance, int64_t now_ms)
{
	const char *kind = anomaly_kind_names[a->kind];
	char *record = NULL, *alert = NULL, url[2048];
	struct pat_err err;
	long status;
	int failed = 0;

	if (anomaly_to_json(a, instance, &record, &err) != PAT_OK) {
		log_error("anomaly not sent", "kind=%s instance=%s error=%s", kind, instance, err.msg);
		return 1;
	}
	log_warn("anomaly", "kind=%s severity=%s score=%.3f instance=%s record=%s", kind, anomaly_severity(a), a->score,
		 instance, record);
	if (s->o.alertmanager_url != NULL) {
		size_t n = strlen(s->o.alertmanager_url);

		snprintf(url, sizeof url, "%.*s/api/v2/alerts", (int)(n > 0 && s->o.alertmanager_url[n - 1] == '/' ? n - 1 : n),
			 s->o.alertmanager_url);
		if (sink_alert_json(a, instance, &alert, &err) != PAT_OK || sink_post_json(url, alert, &s->o, &status, &err) != PAT_OK) {
			log_error("alert not delivered", "sink=alertmanager url=%s kind=%s error=%s", url, kind, err.msg);
			audit(s, "anomaly.alert", "alertmanager", kind, instance, false, 0, err.msg, record);
			failed++;
		} else {
			log_info("alert delivered", "sink=alertmanager url=%s kind=%s status=%ld", url, kind, status);
			audit(s, "anomaly.alert", "alertmanager", kind, instance, true, status, NULL, record);
		}
	}
	if (s->o.webhook_url != NULL) {
		if (sink_post_json(s->o.webhook_url, record, &s->o, &status, &err) != PAT_OK) {
			log_error("alert not delivered", "sink=webhook url=%s kind=%s error=%s", s->o.webhook_url, kind, err.msg);
			audit(s, "anomaly.alert", "webhook", kind, instance, false, 0, err.msg, record);
			failed++;
		} else {
			log_info("alert delivered", "sink=webhook url=%s kind=%s status=%ld", s->o.webhook_url, kind, status);
			audit(s, "anomaly.alert", "webhook", kind, instance, true, status, NULL, record);
		}
	}
	if (s->o.hook_command != NULL || s->o.hook_url != NULL) {
		if (s->hooked[a->kind] && now_ms - s->last_hook_ms[a->kind] < s->o.hook_min_interval_ms) {
			s->hooks_suppressed++;
			log_info("scaling hook suppressed", "kind=%s last_run_ms_ago=%lld min_interval_ms=%lld", kind,
				 (long long)(now_ms - s->last_hook_ms[a->kind]), (long long)s->o.hook_min_interval_ms);
		} else {
			s->hooked[a->kind] = true;
			s->last_hook_ms[a->kind] = now_ms;
			s->hooks_run++;
			if (s->o.hook_command != NULL) {
				int exit_status, rv = sink_run_hook(s->o.hook_command, record, kind, s->o.hook_timeout_ms,
								    &exit_status, &err);

				if (rv != PAT_OK || exit_status != 0) {
					log_error("scaling hook failed", "command=%s kind=%s exit_status=%d error=%s",
						  s->o.hook_command, kind, exit_status, rv != PAT_OK ? err.msg : "exit status not 0");
					audit(s, "anomaly.hook", s->o.hook_command, kind, instance, false, 0,
					      rv != PAT_OK ? err.msg : "exit status not 0", record);
					failed++;
				} else {
					log_info("scaling hook ran", "command=%s kind=%s exit_status=0", s->o.hook_command, kind);
					audit(s, "anomaly.hook", s->o.hook_command, kind, instance, true, 0, NULL, record);
				}
			}
			if (s->o.hook_url != NULL) {
				if (sink_post_json(s->o.hook_url, record, &s->o, &status, &err) != PAT_OK) {
					log_error("scaling hook failed", "url=%s kind=%s error=%s", s->o.hook_url, kind, err.msg);
					audit(s, "anomaly.hook", s->o.hook_url, kind, instance, false, 0, err.msg, record);
					failed++;
				} else {
					log_info("scaling hook called", "url=%s kind=%s status=%ld", s->o.hook_url, kind, status);
					audit(s, "anomaly.hook", s->o.hook_url, kind, instance, true, status, NULL, record);
				}
			}
		}
	}
	mem_free(alert);
	mem_free(record);
	return failed;
}
