/**
 * Public test keys shipped with the package for the default Secure Boot variable set and for
 * signing the sample template's loader. They were generated once (RSA-2048, self-signed, valid
 * 2024-01-01 to 2099-12-31) and are identical for every command and every run, so `lsvm
 * provision` and `lsvm boot unlock` agree without extra arguments. THEY ARE NOT SECRET: the db
 * private key is published here on purpose so that anyone can make a sample template the default
 * db trusts. Never enroll these keys in a real machine's firmware.
 */

/** DER of the test Platform Key certificate (CN=lsvm test PK). */
export const TEST_PK_CERT_BASE64: string =
  'MIIDVjCCAj6gAwIBAgIQY991ua5z24ys55dci07CrzANBgkqhkiG9w0BAQsFADBEMSswKQYDVQQKDCJsc3ZtIChwdWJsaWMg' +
  'dGVzdCBrZXksIG5vdCBzZWNyZXQpMRUwEwYDVQQDDAxsc3ZtIHRlc3QgUEswIBcNMjQwMTAxMDAwMDAwWhgPMjA5OTEyMzEy' +
  'MzU5NTlaMEQxKzApBgNVBAoMImxzdm0gKHB1YmxpYyB0ZXN0IGtleSwgbm90IHNlY3JldCkxFTATBgNVBAMMDGxzdm0gdGVz' +
  'dCBQSzCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAJynSCjIscstsG96M7uvvzU8vHgbr/1FGeAfAdvNAt+xEhRb' +
  'Bx6Zg/ZqsmiBOP3csSDc1/1++BAF1wDaXV/quSmfnKeXTSksu3CA5T1Vgd9XjilpD4RZbhWiTFp7yOdSwsmMG7x0Urnv0RLs' +
  'MW6J4otRMv53waXZx9X+/puHiNSOhQUnYpHaxuM7sfCVMJB6rfyghoTYawgv30BLGAJ0zOYAnQXLc6neZFbIts7dtl6p+fHP' +
  'jCn7umq1vzJlXW+G/Uh+hxBfJKQz2kYxI8G7Q2OMvTXZWn2hYiyB0JW7hb7swENx2ASRFZ/6bawHxSlNfbzuAAKGZjiqggtN' +
  'VkUGetsCAwEAAaNCMEAwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAQYwHQYDVR0OBBYEFM7umgcDIzV3QFgl7qFL' +
  'EX2SUAIJMA0GCSqGSIb3DQEBCwUAA4IBAQA3CjQuMAj1g0ns7wgl/NM623BVTdN9Yhx0hK2BbQuFk9uoNglmpLeT0tNKWELL' +
  'I5vQS+me6/4VgpB6AMKd5+kmn1/F3Enocv4SqA+7QxwNlbc7takzFNOjiMGv96hWAXBQpZJWLWjfjKTD/i5DbFA+rLKH7n/P' +
  'Vytilj301Uiv0tHWrZawlOQ2T/fqylmFNtmHbNBhbkJXwpxr6v5gdC6+OsV8RB0Es7A83RG8nLCYbPqq/1opMV7M0YVb8FU2' +
  'qZ/AQelljuOUBpTZA9/4FzanISzwrDD2tGxUCfqkr3Y1EEJBs9/Da/AXIGC6n5Wpd/mdxBxjTcUOOOYE7q38OLao';

/** DER of the test Key Exchange Key certificate (CN=lsvm test KEK). */
export const TEST_KEK_CERT_BASE64: string =
  'MIIDWDCCAkCgAwIBAgIQELEOoliPymGgC5LdrZdLDzANBgkqhkiG9w0BAQsFADBFMSswKQYDVQQKDCJsc3ZtIChwdWJsaWMg' +
  'dGVzdCBrZXksIG5vdCBzZWNyZXQpMRYwFAYDVQQDDA1sc3ZtIHRlc3QgS0VLMCAXDTI0MDEwMTAwMDAwMFoYDzIwOTkxMjMx' +
  'MjM1OTU5WjBFMSswKQYDVQQKDCJsc3ZtIChwdWJsaWMgdGVzdCBrZXksIG5vdCBzZWNyZXQpMRYwFAYDVQQDDA1sc3ZtIHRl' +
  'c3QgS0VLMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAsKNaq/dEsLBgDfoo250q8TOCSFCJagpUDqOZfKxOdX4h' +
  '8pnek+OJbGsIj7v0LmuHqOOiAgV0MK5z9TStXXoQV/cQ5kf0Pi4txiJg/xZc97yb9+rXHk7btkzYH4MYBPyxoAFPQ7KMKOcK' +
  'gTqhOh1vbTep7qyAb3mjN0ulVOHmtA4EzuUPyhXOg+iI1t3ElynLxigluWRzMkfUcR9qb6yXsvK0G2BtcVLeeGqYV7AfYspP' +
  'iUQMXwroa0ZbnPeyWc7Qc2Bxo3RMoc19FJKBkgvNSB1DEbW8NEDaoxllK9GBWNSnI0Z5X+BQVa4jF8yHA12JMxBO0lg2c5bN' +
  'GPfCd8ockwIDAQABo0IwQDAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB/wQEAwIBBjAdBgNVHQ4EFgQUqXUgUD5Alflywiwb' +
  '3Rh0pRxeA4swDQYJKoZIhvcNAQELBQADggEBALAq7Pl2ZJ6d9D0ehyoieN+fnJ/aPOM6viELF9tnpzvxszzw7zKh2ExQ7zd2' +
  '9sqtTfapRLl1lSk+sj46ww5QDSJuCdxAH3h42dm87Z+v0F3HbUgmWXNt3AKsSDM0TSsTo+7ngpMKT05Ve1c17f43tSKI1rfB' +
  'XGzYBoJgtA6IKb6/FlkzXRCHoavB+kiHgsiBCbqk4/JPtPYYHworqegOtW7K/XwiXVv/V45JlFu31Trtd/8BxuLVkoEr2ur8' +
  '2GCRH5UTxXVzNizLnuj3aNWREqIBgpSitrkrwTKGxdCTNtMtv+XfOSJ+xvICu9OrdgO7aBJao7V2+Bp98vG+ocwjjVY=';

/** DER of the test db certificate (CN=lsvm test db), code signing. */
export const TEST_DB_CERT_BASE64: string =
  'MIIDaDCCAlCgAwIBAgIQL+aKB4nmV48SZ/NcxC0kMjANBgkqhkiG9w0BAQsFADBEMSswKQYDVQQKDCJsc3ZtIChwdWJsaWMg' +
  'dGVzdCBrZXksIG5vdCBzZWNyZXQpMRUwEwYDVQQDDAxsc3ZtIHRlc3QgZGIwIBcNMjQwMTAxMDAwMDAwWhgPMjA5OTEyMzEy' +
  'MzU5NTlaMEQxKzApBgNVBAoMImxzdm0gKHB1YmxpYyB0ZXN0IGtleSwgbm90IHNlY3JldCkxFTATBgNVBAMMDGxzdm0gdGVz' +
  'dCBkYjCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAL1MOotPAhyzSGyH3EoLDG0TRhbHWp+9xQN3L0mq64Y0F0g5' +
  'V4VH4zTlOU6wPIse1CpgiM+sNG8XuuTSYJv3N2fxU02B7NYsS9HO2z1iWAU2Q7nCEwKxbkjXaOoD2dHFAppJGWAyzzVGq0xZ' +
  'U6n1L1jnWIC/Lfeuyy8ry7gkF7aTdCao7GGQQa+4owG91KJjrxHmm4yJa3jLDshXMWgPQR5ASbqAGXbdPh5Wu2YuVNUix/Nl' +
  'gl243sEjXzI1fsIFpqmIcgWQwqIgHPpB2w3dXHcuikv5/a1Zw2NUEaSRO8WkyL8qc6h28R245Z9YRaOk+8T1qdkjzQv6WAUf' +
  'Gp0kDycCAwEAAaNUMFIwDAYDVR0TAQH/BAIwADAOBgNVHQ8BAf8EBAMCB4AwHQYDVR0OBBYEFIPHFfMCkd7NOwEe5Kq9Sl2W' +
  'R3poMBMGA1UdJQQMMAoGCCsGAQUFBwMDMA0GCSqGSIb3DQEBCwUAA4IBAQAVt2Ob+sLV51TpfowUcDb6/vw7aoAg0rPZnnGS' +
  'NAgVKwmKWAbUaK2O2L7EgVTphxj7dkvjtzf5xX95W91r5ImtT2TL8ONknJxTU7zkQCxysYcLSLV/wRyxmD22T8PZ30wguGbR' +
  'RdAMhJhlakzOuelRIH0i0yi7kXgwnrvib7f9+WS8UAnJM3kpqZHlLGfiEtjcSaB9IOZKyhsFLgSXoSIk4aWWjWIeI4oJgWKB' +
  'bxhhSH+5nHq1v67+H34J9Mfv//w/Vrp86J8WU/Xd4+oEkI439IMHrOk5MrnGDGibdkgP6YF/P8hmtGH+MxaS7GR58xVFk124' +
  'RgWquCcGO+/wJK0s';

/** PKCS#8 PEM private key of the test db certificate (public on purpose, see above). */
export const TEST_DB_KEY_PEM: string = `-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQC9TDqLTwIcs0hs
h9xKCwxtE0YWx1qfvcUDdy9JquuGNBdIOVeFR+M05TlOsDyLHtQqYIjPrDRvF7rk
0mCb9zdn8VNNgezWLEvRzts9YlgFNkO5whMCsW5I12jqA9nRxQKaSRlgMs81RqtM
WVOp9S9Y51iAvy33rssvK8u4JBe2k3QmqOxhkEGvuKMBvdSiY68R5puMiWt4yw7I
VzFoD0EeQEm6gBl23T4eVrtmLlTVIsfzZYJduN7BI18yNX7CBaapiHIFkMKiIBz6
QdsN3Vx3LopL+f2tWcNjVBGkkTvFpMi/KnOodvEduOWfWEWjpPvE9anZI80L+lgF
HxqdJA8nAgMBAAECggEAVtJAJcXqj5RRGuojSNiRbfPBmU/9CjglROYky7J3jNmW
dhtKv4gNtySNaMBfPGW65ObayPlQIUXug+XTxqUYBfYDAZEeOcseSVAJcTmKanWN
kYToaDtN/F3EMlTq0hH8lBwD5gHX1LUhewabX1/jw/BzwLUu1aOXcH6zVLVFJQjp
ahmKdGNLU4sS6XaQzDCafklsLx2CnjvUDQ+ruMHLkwyacwx1Rr5lX+eateloKSEW
lwOC/915pfk//51EF0LOCUpP8s7krUAy8ov075j0TpnnK13YC+MijX6sZd2US7Q1
0/ajqKCG6xb1W6Bpk9mBIwpBih7sr6t3c3Nur8T/EQKBgQDgyYmQzk4L5gpP+vbH
PH/LMJZ1T44wrS5xlu6vWIzm9FMr6olSGOrtkaH7k9jQ1lslwSSOs+iQLXcJlT7k
CVnjKIcGTulCWl19RVmqfNJNgyn7fmAXC5nABS39Eaom7uQvet84+tdVCMrFqy5r
6ShESqkmaHyezlkvrf26hUGacQKBgQDXlSeHb92Bq0F8NoofF/Vv845/DfemkXSt
Ox6ixQnub+GQQ1lwIfhlA0R/dNHD9+M+MSmneUgGxL0o0hEswNBXKoYUWia3LqH5
Kg0VlcrOBoTDFcNmPpaYydHMvTshsC4W5leFphA0ZezfkQw7Wnxm1jQq7lfbhFjL
UBegdgOfFwKBgC/fG9nn5b0o94dC9i1GGB0ostI26Bw7tYlhUGGtZQyGefP/VdFT
Fy0S98FBIkqPbAflUyjE7cFOvWwgCa28xBTZe6//PDPyVLip/UeOn6b8SQOTTVl7
EfpP4BRmH6t88sGd1E4pNZSZc72XECLRG883a0CPvgKABYRe9Is1d9wxAoGBAMCN
kIj/+bDf7dWsQSIUnDwqJpSFPTWhpb00mOB5ba1ycN4RycjGDr7qdDwDc3i96FKc
RsA3K4YgI3RabMy0S2IPsUJsYzgqhrGuRZGKAWKTn/E/dw/Tx18gpCtiuXYVjpUV
mAbflIm4oCHvxCUfZQ3VNTNDP2XqiATQvMmtnv5xAoGBAK8T6+F8k3cN8xKuSPXV
Iz7fqrOFsHRx/x25uXlvCfSzQJfdnHeYJFH0ByyxaY0OzgEhl7LaaMbwTWOXkUip
1D7WMcrFu7XI7Eh7A2fNOrQs0Ll4zWgCmqSfo8JFy02kXlnXWPVc3JDbD9s1wbga
WArGrgif0wgj9Ip4I6frx9Da
-----END PRIVATE KEY-----
`;
