"""A small built-in deny-list of the passwords people pick first.

The list only holds entries of eight characters or more: shorter ones are already
refused by the length rule. Entries are stored case-folded because the check is
case-insensitive ("Password1" is no better than "password1"). It is deliberately
short so it can live in the source tree; a larger breached-password corpus can be
layered on later without changing callers.
"""

from __future__ import annotations

__all__ = ["COMMON_PASSWORDS"]

_RAW = """
password password1 password12 password123 password1234 password12345 password!
password01 password2 password3 password7 password8 password9 passw0rd passw0rd1
p@ssword p@ssw0rd p@ssw0rd1 p@ssword1 pa55word pa55w0rd passpass passport
mypassword newpassword yourpassword secretpassword password2020 password2021
password2022 password2023 password2024 password2025 password2026 changeme
changeme1 changeme123 changeit letmein1 letmein12 letmein123 letmeinnow
welcome1 welcome12 welcome123 welcome2024 welcome2025 welcome! welcomehome
12345678 123456789 1234567890 12345678910 0123456789 0987654321 9876543210
87654321 987654321 11111111 111111111 1111111111 22222222 33333333 44444444
55555555 66666666 77777777 88888888 99999999 00000000 000000000 0000000000
12341234 12121212 11223344 12344321 123123123 123412345 1234512345 123456123
1q2w3e4r 1q2w3e4r5t 1q2w3e4r5t6y 1qaz2wsx 1qaz2wsx3edc 1qazxsw2 zaq12wsx
zaq1zaq1 zaq1xsw2 qazwsxedc qazwsx123 q1w2e3r4 q1w2e3r4t5 q1w2e3r4t5y6 a1b2c3d4
abcd1234 abc12345 abc123456 abcdefgh abcdefg1 abcdefg123 abcdef123 a1234567
aa123456 aaaaaaaa asdfasdf asdfghjk asdfghjkl asdf1234 asdfgh123 asdasdasd
qwertyui qwertyuiop qwerty12 qwerty123 qwerty1234 qwerty12345 qwerty123456
qwerty!@# qwertyqwerty qwerasdf qwer1234 qweqweqwe qweasdzxc qweasd123 qwe12345
zxcvbnm1 zxcvbnm123 zxcvbnmm zxcvasdf zxcv1234 1234qwer 123qweasd 123qweasdzxc
123abc123 123456aa 123456ab 123456abc 123456qwe 123456789a 12345qwert 12345abc
iloveyou iloveyou1 iloveyou2 iloveyou123 iloveu123 loveyou1 lovelove lovely123
sunshine sunshine1 princess princess1 football football1 baseball basketball
superman batman123 spiderman starwars starwars1 pokemon1 naruto123 minecraft
minecraft1 fortnite roblox123 computer computer1 internet whatever whatever1
trustno1 trustnoone 1trustno1 iloveyou! letmein! master123 mastermind
monkey123 dragon123 shadow123 michael1 jennifer jessica1 charlie1 superstar
sweetheart butterfly chocolate cookie123 freedom1 liverpool arsenal1 chelsea1
manchester barcelona realmadrid juventus maverick mustang1 mercedes ferrari1
corvette harley123 yankees1 cowboys1 steelers packers1 eagles123 dolphins
hockey123 soccer123 tennis123 warriors jordan23 jordan123 michael23 letsgo123
blink182 linkinpark metallica nirvana1 beatles1 1234abcd abcd12345 hello123
hello1234 helloworld hellokitty hello12345 goodluck goodbye1 happy123 happyday
happy2024 smile123 daniel123 andrew123 matthew1 anthony1 joshua123 william1
elizabeth samantha victoria alexander christopher nicholas1 benjamin1 thomas123
natasha1 anastasia qwerty007 jamesbond bond0007 agent007 secret123 secret12
topsecret mysecret1 access14 access123 admin123 admin1234 admin12345 administrator
adminadmin root1234 rootroot toor1234 superuser sysadmin1 guest123 default1
testtest test1234 test12345 testing1 testing123 tester123 demo1234 letmein22
useruser user1234 username username1 login123 login1234 pass1234 pass12345
passw0rd! mypass123 office123 company1 business1 student1 teacher1 school123
summer2024 summer2025 winter2024 winter2025 spring2024 autumn2024 january1
february september october1 november december christmas christmas1 halloween
valentine birthday birthday1 newyork1 california london123 paris123 moscow123
berlin123 america1 canada123 england1 australia germany1 brazil123 india123
pakistan bangladesh indonesia philippines vietnam1 nigeria1 poland123 ukraine1
russia123 qwertyuio1 azertyuiop azerty123 azerty12 qwertz123 qwertzuiop
1a2b3c4d iloveyou7 lovelove1 fuckyou1 fuckoff1 asshole1 babygirl1 babyboy1
angel123 angels12 beautiful pretty123 sexy1234 sexygirl hotmail1 gmail123
yahoo123 facebook facebook1 instagram twitter1 youtube1 google123 microsoft
windows1 windows10 apple123 iphone12 samsung1 nokia123 telegram telegram1
whatsapp chatgpt1 bitcoin1 ethereum crypto123 blockchain money123 moneymoney
richman1 million1 diamond1 platinum golden123 silver123 rainbow1 rainbow123
universe galaxy123 starlight moonlight sunflower flower123 orange123 banana123
chicken1 pumpkin1 cheese123 pizza123 coffee123 cupcake1 bubbles1 snoopy123
tigger123 pepper123 ginger123 buster123 hunter123 killer123 thunder1 lightning
phoenix1 warrior1 wizard123 gandalf1 matrix123 zeppelin qazwsxedcrfv
"""

COMMON_PASSWORDS: frozenset[str] = frozenset(word.casefold() for word in _RAW.split() if len(word) >= 8)
