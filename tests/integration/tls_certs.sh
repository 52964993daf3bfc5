# tls_certs.sh DIR - makes the test certificates of the TLS tests in DIR
# (sourced or run; needs the openssl command). Nothing here is committed:
# every key is made at test time.
#   ca.pem/ca.key        the test CA
#   server.pem/.key      CN=localhost, SAN DNS:localhost, IP:127.0.0.1
#   server2.pem/.key     the same names, a second key (for the reload test)
#   client.pem/.key      CN=mirror1, signed by the CA
#   expired.pem/.key     CN=old-node, signed by the CA, expired
#   rogue-ca.pem, rogue.pem/.key  CN=mirror1, signed by another CA
tls_make_certs() {
	d=$1
	o="openssl"
	cnf="$d/ext.cnf"
	printf '[srv]\nsubjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n[cli]\nbasicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n' > "$cnf"
	$o req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj /CN=chorus-test-ca -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null || return 1
	$o req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj /CN=rogue-ca -keyout "$d/rogue-ca.key" -out "$d/rogue-ca.pem" 2>/dev/null || return 1
	for n in server:localhost:srv:ca server2:localhost:srv:ca client:mirror1:cli:ca \
		 rogue:mirror1:cli:rogue-ca; do
		IFS=: read -r f cn ext ca <<E2
$n
E2
		$o req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$cn" \
			-keyout "$d/$f.key" -out "$d/$f.csr" 2>/dev/null || return 1
		$o x509 -req -in "$d/$f.csr" -CA "$d/$ca.pem" -CAkey "$d/$ca.key" \
			-CAcreateserial -days 2 -extfile "$cnf" -extensions "$ext" \
			-out "$d/$f.pem" 2>/dev/null || return 1
	done
	# An expired client certificate: valid for one day, two days ago.
	$o req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=old-node \
		-keyout "$d/expired.key" -out "$d/expired.csr" 2>/dev/null || return 1
	$o x509 -req -in "$d/expired.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
		-CAcreateserial -not_before 20200101000000Z -not_after 20200102000000Z \
		-extfile "$cnf" -extensions cli -out "$d/expired.pem" 2>/dev/null && return 0
	# openssl before 3.4 has no -not_before: sign with a CA whose
	# validity the x509 command takes, through the ca command.
	mkdir -p "$d/ca.db" && : > "$d/ca.db/index" && echo 01 > "$d/ca.db/serial"
	printf '[ca]\ndefault_ca=d\n[d]\ndatabase=%s/ca.db/index\nserial=%s/ca.db/serial\nnew_certs_dir=%s/ca.db\ndefault_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n' \
		"$d" "$d" "$d" > "$d/ca.cnf"
	$o ca -batch -config "$d/ca.cnf" -cert "$d/ca.pem" -keyfile "$d/ca.key" \
		-startdate 20200101000000Z -enddate 20200102000000Z -extfile "$cnf" \
		-extensions cli -in "$d/expired.csr" -out "$d/expired.pem" 2>/dev/null
}
