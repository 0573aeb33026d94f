/* tls: see tls.h. */
#include "gateway/tls.h"

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

static int openssl_error(struct pat_err *err, const char *what)
{
	char text[256];

	ERR_error_string_n(ERR_get_error(), text, sizeof text);
	return err_set(err, PAT_EINVAL, "%s: %s", what, text);
}

static SSL_CTX *new_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx != NULL)
		SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	return ctx;
}

int tls_context_from_pem(SSL_CTX **out, const char *cert_file, const char *key_pem, size_t key_len, struct pat_err *err)
{
	SSL_CTX *ctx = new_ctx();
	BIO *bio = NULL;
	EVP_PKEY *key = NULL;
	int rv = PAT_OK;

	*out = NULL;
	if (ctx == NULL)
		return openssl_error(err, "cannot create a TLS context");
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		rv = openssl_error(err, "cannot load the certificate");
		goto fail;
	}
	bio = BIO_new_mem_buf(key_pem, (int)key_len);
	key = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	if (key == NULL) {
		rv = openssl_error(err, "cannot read the private key (PEM expected)");
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		rv = openssl_error(err, "the private key does not match the certificate");
		goto fail;
	}
	EVP_PKEY_free(key);
	BIO_free(bio);
	*out = ctx;
	return PAT_OK;
fail:
	EVP_PKEY_free(key);
	BIO_free(bio);
	SSL_CTX_free(ctx);
	return rv;
}

int tls_context_self_signed(SSL_CTX **out, const char *hostname, struct pat_err *err)
{
	SSL_CTX *ctx = new_ctx();
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = X509_new();
	X509_NAME *name;
	int rv = PAT_OK;

	*out = NULL;
	if (ctx == NULL || key == NULL || cert == NULL) {
		rv = openssl_error(err, "cannot make a self-signed certificate");
		goto out;
	}
	X509_set_version(cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
	X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(cert), 365L * 24 * 3600);
	X509_set_pubkey(cert, key);
	name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)hostname, -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Pat (self-signed)", -1, -1, 0);
	X509_set_issuer_name(cert, name);
	if (X509_sign(cert, key, EVP_sha256()) == 0 || SSL_CTX_use_certificate(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, key) != 1) {
		rv = openssl_error(err, "cannot make a self-signed certificate");
		goto out;
	}
	*out = ctx;
	ctx = NULL;
out:
	X509_free(cert);
	EVP_PKEY_free(key);
	SSL_CTX_free(ctx);
	return rv;
}
