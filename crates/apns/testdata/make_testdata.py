# Produces the committed test key and the PyJWT token (see testdata/README.md).
import jwt, cryptography
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import serialization
key = ec.generate_private_key(ec.SECP256R1())
pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
pub = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
open("test-AuthKey.p8", "wb").write(pem)
open("test-AuthKey.pub.pem", "wb").write(pub)
token = jwt.encode({"iss": "TESTTEAM01", "iat": 1780000000}, pem, algorithm="ES256", headers={"kid": "TESTKEY001"})
open("pyjwt-token.txt", "w").write(token + "\n")
print("pyjwt", jwt.__version__, "cryptography", cryptography.__version__)
print(token)
