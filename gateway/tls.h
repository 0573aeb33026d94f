/* tls: the TLS context for STARTTLS: a certificate and key from files, or a self-signed
 * certificate made at start-up for `pat serve` when none is configured. */
#ifndef PAT_GATEWAY_TLS_H
#define PAT_GATEWAY_TLS_H

#include <openssl/ssl.h>
#include <stddef.h>

#include "lib/err.h"

/* A server context from a PEM certificate chain file and a PEM private key (the key's text, as
 * read from its secret file). */
int tls_context_from_pem(SSL_CTX **ctx, const char *cert_file, const char *key_pem, size_t key_len, struct pat_err *err);
/* A server context with a new self-signed certificate for hostname (EC P-256, one year). */
int tls_context_self_signed(SSL_CTX **ctx, const char *hostname, struct pat_err *err);

#endif
