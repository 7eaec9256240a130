"""Emergencies first: curated patterns that catch danger in all six languages.

This is the high-recall path of the matcher: a message that matches any rule below is
``urgent``, whatever else it is about. The statistical matcher (trained on the
knowledge base's ``urgent`` examples) catches more wording; these rules make sure the
obvious cases never depend on a score. A false alarm costs a staff member a minute; a
missed emergency can cost a life, so when in doubt a rule stays.

Rules are regular expressions over normalised text (``bot.nlu.text.normalize``:
lower case, no Latin accents, one spelling per Arabic-script letter, punctuation
removed), so they are written without accents and with ی ک گ (not ي ك ګ). A rule is
one pattern, or a tuple of patterns that must all match (a child *and* the street at
night). Each rule may name a context that cancels it: "they will kill me if I go back"
is a reason for asylum, not an emergency tonight.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.nlu.text import normalize, normalize_letters

# Someone afraid of what awaits them in the country they fled: an asylum question.
_BACK_HOME = (
    r"\b(if (i|we) (go|am sent|are sent|return)|back (home|to)|in (my|our) country"
    r"|taliban|als ik terug|in mijn land|si je (rentre|retourne)|dans mon pays|deport|uitzet|expuls"
    r"|якщо (я )?повернусь|если вернусь|talibano|طالب|وطن|که (بیرته|دوباره)|اگر (برگردم|پس)"
    r"|agar bargardam|ka bayrta|депорт|اخراج|دیپورت"
    r"|kan niet terug|niet terug naar|daar (gaan|zullen|willen) ze|ne (peux|peut) pas (rentrer"
    r"|retourner)|renvoye|can ?n?o?t go back|sent back to|teruggestuurd|не можу повернутися"
    r"|не могу вернуться"
    # beaten by the police of a country on the way (a Dublin question, not tonight)
    r"|(پولیس|police|politie|полиц|поліц).{0,20}(کرواس|بلغار|یونان|croat|kroat|bulgar|greece|griek"
    r"|hungar|hongar)|(کرواس|بلغار|یونان|croat|kroat|bulgar|greece|griek|hungar|hongar)\w*.{0,20}"
    r"(پولیس|police|politie|полиц|поліц))"
)

# Someone arrested or detained: a question for a lawyer and the detention answer, not 112.
_ARRESTED = (
    r"\b(arrested|detained|in detention|gearresteerd|opgepakt|aangehouden|gesloten centrum"
    r"|arrete|interpelle|centre ferme|detenu|заарештува|арештува|затримал|задержал|арестовал"
    r"|توقیف|بازداشت|ونیول|نیولی|zindan|bazdasht|tawqif)"
)

# Long ago, or already searching through the Red Cross: tracing a relative, not tonight.
_LONG_AGO_OR_TRACING = (
    r"\b(red cross|rode kruis|croix rouge|tracing|червон\w* хрест|красн\w* крест|سره صلیب"
    r"|صلیب سرخ|هلال احمر|sra salib|salib e? surkh"
    r"|[0-9]+ (years?|jaar|ans?|років|роки|рік|лет|года?|kala|kaal|sal|saal|months?|maanden"
    r"|mois|місяц\w*|месяц\w*|میاشت\w*|ماه|کاله|کال|سال) (ago|geleden|kegi|pesh|mikhe)"
    r"|(since|sinds|depuis|вже|уже) [0-9]+ (years?|jaar|ans?|років|роки|лет|года?)"
    r"|[0-9]+ (kala|kaala|sal|saal|کاله|کال|سال) (kegi|kezhi|mekhe|مخکې|پیش|کېږی|کیږی|میشه))"
)

# "This is not an emergency, but ..."
_NOT_AN_EMERGENCY = (
    r"\b(not|no|geen|niet|pas|pas une?|не|нет) (an? |een |une |dringend |urgent )?"
    r"(emergency|urgent|noodgeval|dringend|urgence|терміново|срочно|надзвичайн)"
)

# A child (or someone saying they are under 18) ...
_CHILD = (
    r"\b(child|kid|boy|girl|baby|toddler|minor|([1-9]|1[0-7]) ?(years? old|yo)\b|i ?a?m 1[0-7]\b"
    r"|(een|mijn|mn|m n|ons|het|klein|jong|dit) kind\b|kindje|kleuter|jongen|jongetje|meisje"
    r"|zoontje|dochtertje|\b([1-9]|1[0-7]) jaar|ik ben 1[0-7]\b"
    r"|enfant|bebe|gamin|garcon|fillette|petite? fille|petit garcon|\b([1-9]|1[0-7]) ans"
    r"|j ai 1[0-7]\b"
    r"|дитин|дитя|хлопчик|дівчин|малюк|немовл|ребен|ребён|мальчик|девоч|мені 1[0-7]|мне 1[0-7]"
    r"|\b([1-9]|1[0-7]) (років|рок|лет)|dytyn|rebenok|malchik|devochk"
    r"|ماشوم|کوچنی|هلک|نجلی|\b([1-9]|1[0-7]) کلن|طفل|کودک|بچه|پسر|دختر|\b([1-9]|1[0-7]) ساله"
    r"|mashom|mashoom|halak|njeli|tefl|tifl|kodak|bacha|bache|\b([1-9]|1[0-7]) (kalan|sala))"
)
# ... outside, alone at night, with nowhere to sleep.
_STREET_AT_NIGHT = (
    r"(street|outside|station|in the dark|(is|getting|it s) dark|tonight|at night|nowhere to sleep"
    r"|no(where| place) to (sleep|stay)|op straat|\bbuiten\b|station|donker|vannacht|vanavond"
    r"|nergens (om )?te slapen|geen (plek|plaats|slaapplaats)|dans la rue|dehors|a la gare|gare du"
    r"|la nuit|il fait (nuit|noir)|ce soir|cette nuit|ou dormir|nulle part"
    r"|на вулиці|на улице|вокзал|надворі|\bніч\b|\bночі|\bвночі|\bуночі|\bночью|\bночь|темно"
    r"|ніде (спати|ночувати)|негде спать"
    r"|سرک|سړک|سټیشن|ستیشن|ایستگاه|شپه|شب|بهر|بیرون|د خوب ځای|جای خواب|تاریک"
    r"|sarak|shpa|shab|beron|tarik"
    # in a park or on a bench, no adult with them, the parent did not come
    r"|\bpark|\bparc\b|лавц|лавк|парку|парке|پارک|no adult|aucun adulte|geen volwassene"
    r"|без дорослих|без взрослых|мама не (прийшла|пришла)|mama ne pryishla"
    r"|(dort|dorment|slaapt|slapen|sleeps?|sleeping) (seule?s?|alleen|alone))"
)

# A child (or a brother, a sister) gone missing.
_CHILD_MISSING = (
    r"\b(child|son|daughter|kid|boy|girl|brother|sister)\b.{0,30}\b(missing|disappeared|gone|lost)"
    r"|\bmissing (child|son|daughter|kid|boy|girl)|\b(kind|zoon|dochter|zoontje|dochtertje"
    r"|jongen|meisje)\b.{0,30}\b(vermist|verdwenen|kwijt|weg)\b|\bvermist"
    r"|\b(enfant|fils|fille|garcon)\b.{0,30}\bdisparu|\bdisparition"
    r"|(дитин|син|сина|донь|доч|хлопчик|дівчин|ребен|сын|мальчик|девоч)\w*.{0,30}"
    r"(зник|пропал|пропав|загуб)|(зник|пропал|пропав)\w*.{0,30}(дитин|син|донь|доч|ребен|сын)"
    r"|(ماشوم|زوی|لور|هلک|نجلی).{0,30}ورک|ورک.{0,30}(ماشوم|زوی|لور|هلک|نجلی)"
    r"|(بچه|پسر|دختر|طفل|کودک).{0,30}(گم|ناپدید)|(گم|ناپدید).{0,30}(بچه|پسر|دختر|طفل|کودک)"
    r"|\b(bacha|bache|pesar|dokhtar|mashom|zoy)\b.{0,30}\b(gum|gom|wrak|wruk)\b"
)

Rule = str | tuple[str, ...]

RULES: list[tuple[str, Rule, str | None]] = [
    (
        "suicide",
        r"\bsuicid|\bzelfmoord|\bсуїцид|\bсуицид|خودکشی|ځان ?وژن|khodkoshi",
        None,
    ),
    (
        "suicide",
        r"\b(kill|hang|hurt|cut) (my|him|her)sel|\bkill myself|\bend (my life|it all|it tonight)"
        r"|\b(do ?n ?t|dont|no longer|not) want to (live|be alive|wake up)|\bwant to die\b"
        r"|\bno (reason|point) (to|in) liv|\bbetter (off )?without me|\bself ?harm"
        r"|\bjump (off|from) (the|a) (bridge|roof|building|window|balcony)|\bcan ?t go on\b"
        r"|\bdisappear forever",
        None,
    ),
    (
        "suicide",
        r"\beinde aan (maken|mijn leven)|\ber een einde aan|\bniet meer (willen )?leven"
        r"|\b(wil|ga) (dood|sterven)|\bmezelf (doden|ophangen|iets aandoen|van kant)"
        r"|\bvan kant maken|\bzich (op ?te ?hangen|ophangen|van kant)|\bbeter af zonder mij"
        r"|\bal (mijn|de) (pillen|tabletten|medicijnen)|\bwil (gewoon )?dat het (allemaal )?stopt"
        r"|\bmezelf gesneden|\bvoor altijd verdwijnen|\bvan (de|een) (brug|dak) springen"
        r"|\bleven heeft geen zin",
        None,
    ),
    (
        "suicide",
        r"\bme tuer\b|\ben finir\b|\bmettre fin a (mes jours|ma vie)"
        r"|\b(plus|pas) (envie de )?vivre|\bveux mourir|\b(me|se) pendre|\bcoupee? expres"
        r"|\bmieux sans moi|\bsauter (du|d un|de la|par la) (pont|toit|fenetre)"
        r"|\bdisparaitre pour toujours|\bma vie n a plus de sens",
        None,
    ),
    (
        "suicide",
        r"покінчити|покончить|(вбити|убити|убить) себе|убить себя|не хочу (більше |больше )?жит"
        r"|хочу (померти|умерти|умереть)|повіси|повеси|порізал|порезал|краще без мене"
        r"|краще б мене не було|лучше бы меня не было|(купила|купив|зібрала|назбирала) таблетки"
        r"|лучше без меня|(все|усе) (закінчу|закончу)|сенсу жити|смысла жить|стрибнути з"
        r"|прыгнуть с|pokinchy|ne (k?h)ochu (bilshe )?zhy|vbyty sebe|ubit sebia|vse zakinchu"
        r"|(vse|use|zhyttia) zakinch|zakinchyty (z )?(vse|zhyttia|soboiu)|pokonch|samohubst"
        r"|samoubiist|samoubiyst|ne (khochu|hochu|xochu) (bilshe |bolshe )?zhit|vse zakonch"
        r"|(все|усе) закінчити|закінчити (з )?(усе|все|життя)",
        None,
    ),
    (
        "suicide",
        r"ځان (و?وژنم|ختم|مړ)|نه غواړم ژوند|ژوندی پاتې|مړ شم|ځان می ټپی|ځان مې ټپی|زما پرته ښه"
        r"|بدون من بهتر|بی من بهتر|د تل لپاره ورک|برای همیشه (گم|ناپدید)|zan (wa)?wa?[zj]h?nam"
        r"|zhwandai pate|zhwand na|khatam kram|خود(م)? را (ب|می ?)کش|زنده (باشم|بمانم)|بمیرم"
        r"|(همه چیز|همه را|زندگی) را تمام|khod(am)? ra (bo|me|mi|be)kosh|zenda basham|bemiram"
        r"|tamam mekonom",
        None,
    ),
    (
        "suicide",
        r"\bwil er niet meer zijn|\bniet meer (hier )?(willen )?zijn\b|\bgoing to jump\b"
        r"|\b(all|alle|toutes? (mes|les)|tous (mes|les)) (the |my |mijn |de )?(pills|tablets|meds"
        r"|pillen|tabletten|medicijnen|pilules|cachets|comprimes|medicaments)"
        r"|\bswallowed|\bingeslikt|\bavale\b|(زندگی|ژوند).{0,12}خاتمه|خاتمه .{0,12}زندگی"
        r"|همه (ی )?(قرص|تابلیت)|ټولې گولی|покінчити з життям|покончить с жизнью",
        None,
    ),
    (
        "suicide",
        r"\b(going to|gonna|will|want to|about to) jump\b|\bi ?ll jump\b|\b(ga|gaan|wil) springen"
        r"|\bspring (eraf|naar beneden)|\b(vais|veux|va) sauter\b|стрибну|стрибнути|прыгну"
        r"|ځان .{0,12}غورځ|خود(م)? را .{0,12}(می ?|ب)انداز|khod(am)? ra .{0,10}(me|mi|b)andaz",
        None,
    ),
    (
        "overdose",
        r"\boverdos|\btoo many (pills|tablets|meds|medic)|\b(te )?veel pillen"
        r"|\btrop de (medicaments|cachets|pilules|comprimes)|\bbagato tabletok|багато таблеток"
        r"|таблеток (багато|много)|много таблеток|передоз"
        r"|\b(pills|pillen|tabletten|cachets|comprimes)\b.{0,40}\b(genomen|took|taken|pris|avale)"
        r"|\b(took|taken|genomen|pris|avale)\b.{0,40}\b(pills|pillen|tabletten|cachets|comprimes)"
        r"|گولی.{0,20}خوړل|تابلیت.{0,20}(زیاد|خورده)|قرص.{0,20}(زیاد|خورده)"
        r"|\b(ziyad|zyad|ziad|zyat|besyar|der) "
        r"(tablet|tabletha|tabletaa|dawa|dawai|qors|golay|goli)\w* (khord|khurd|khwar|khor)"
        r"|\btablet\w* .{0,15}(khord|khurd|khwaral|khwaray)"
        r"|таблетк\w*.{0,30}(поруч|ковтн|выпил|випил|наковт)|tabletk\w*.{0,30}(poruch|kovtn|vypy)",
        None,
    ),
    # --- medical emergency -----------------------------------------------------------
    (
        "medical",
        r"\bnot breathing|\bstopped breathing|\bcan ?n?o?t breath|\bcant breath|\bno breath"
        r"|\bunconscious|\bpassed out|\bfainted|\bnot (responding|reacting|waking)|\bwont wake"
        r"|\bdoesnt (respond|wake|react)|\bbleed|\bheart attack|\bchest pain|\bseizure|\bconvuls"
        r"|\bturning blue|\bchok(ing|es)\b|\bdrown|\bbadly (hurt|injured|burn)"
        r"|\bseriously (hurt|injured|ill)|\bstabbed|\b(got|been|was|is|being) shot\b|\bshooting"
        r"|\bon fire\b|\bfire in\b|\bthere is a fire|\bis burning"
        r"|\bfell (from|out of|down) (the |a )?(window|roof|balcony|stairs)",
        None,
    ),
    (
        "medical",
        r"\bademt niet|\bkan niet (meer )?ademen|\bgeen adem|\bbewusteloos|\bflauwgevallen"
        r"|\breageert niet|\bbloed(t|en|ing)\b|\bhartaanval"
        r"|\bpijn (aan|in) (de|zijn|haar|mijn) borst|\bborstpijn|\bepilep|\bstuip|\bwordt blauw"
        r"|\bverdrink|\bzwaar gewond|\bernstig gewond|\bneergestoken|\bgestoken"
        r"|\bbrand (in|op|bij)|\ber is brand|\bin brand|\bbrandt\b|\buit het raam gevallen"
        r"|\brespire (plus|pas)|\bne se reveille (plus|pas)|\brespire (tres |vraiment )?mal\b"
        r"|\b(arrive|peut) (plus|pas) (a )?respirer|\binconscient|\bevanoui"
        r"|\brepond plus\b(?! depuis| au tel)|\breagit plus|\bbouge plus|\bsaign|\bhemorragi"
        r"|\bcrise cardiaque"
        r"|\b(mal|douleur) (a la|dans la|a|au) poitrine|\bconvuls|\bdevient bleu|\bnoie\b|\bnoyade"
        r"|\bgravement (blesse|brule)|\bpoignard|\ble feu\b|\bincendie"
        r"|\btombee? (de|du|par) (la fenetre|l escalier|balcon)",
        None,
    ),
    (
        "medical",
        r"не дихає|не дише|не дышит|не (може|можу|может|могу) (дихати|дышать)|задих|задых"
        r"|без свідомості|без сознания|непритомн|не (реагує|реагирует)|не приходить до тями"
        r"|кровотеч|кровоточ|кров(ь|ю)?\b|біль (у|в) грудях|боль в груди|інфаркт|инфаркт"
        r"|судом(и|ы)|судорог|епілеп|эпилеп|синіє|синеет|\bтоне\b|тонет|потопа|поранен|\bранен"
        r"|швидку\b|швидкої|швидка допомог|потрібна швидка|скор(ую|ая)|пожеж|пожар"
        r"|(випав|выпал) (з|из) (вікна|окна)|ne dykha|ne dysh|bez svidomost|krovotech"
        r"|shvydk\w* (dopomoh|terminovo)|skoruiu",
        None,
    ),
    (
        "medical",
        r"ساه (نه|یی نه|یې نه)|بې ?هوښ|بی ?هوښ|بیهوش|\bوینه|زړه درد|زړه حمله|ټپی|زخمی"
        r"|بدن.{0,10}لړز|جان.{0,10}لرز|اور (لگ|دی)|ډوب|غرق"
        r"|(لوېدلی|لویدلی|افتاد).{0,20}(کړکی|کلکین)|(کړکی|کلکین).{0,20}(لوېد|لوید|افتاد)"
        r"|نفس(ش)? (نمی|بند|نمیگ|نمیک)|خون ?(ریزی|زیاد|میر|می ?رود|میره|بند)|درد قلب|سکته"
        r"|حمله قلبی|مرگی|کبود|اتش گرفت|sa na akh|sah na|be ?hokh|be ?hosh|weena|wina tre|zakhmi"
        r"|tapi shaw|nafas ?(na|ne)m?e?(kash|gir)|khon (rezi|ziad|mera|mer|band)|sakta"
        r"|bedar (nemi|nami|nmi)sh|nafas (kam|mushkil|sakht) (me|mi)?kash|na (wekh|wikh)egi",
        None,
    ),
    (
        "medical",
        r"\bcollaps|\beffondre|\bin elkaar gezakt|\bingestort|\bnot moving|\bisn t moving"
        r"|\bbeweegt niet|втрати\w* свідом|потерял\w* сознани|\bgeen lucht|\bkrijg\w* geen adem"
        r"|\b(van|uit|door) (het|de|een) (dak|raam|balkon|trap) gevallen|\bgevallen van (het|de)"
        r"|\bfell (off|from) (the|a)|\btombee? du toit|\bpoison|\bvergiftig|\bempoisonn|отру"
        r"|\bmiscarri|\bmiskraam|\bfausse couche|викидень|выкидыш|\bin labou?r\b|\bgiving birth"
        r"|\bbevalt\b|\baccouche|народжує|рожает|ساه (نشی|نشي)|نفس (کشیده )?(نمی|بند)",
        None,
    ),
    (
        "medical",
        r"\bbreathing (strangely|weird|badly|fast|heavily|funny)"
        r"|\b(trouble|difficulty|hard) breathing"
        r"|\bfloppy\b|\bademt (heel |erg |zo )?(raar|moeilijk|slecht|vreemd|snel)|\bslap en\b"
        r"|\brespire (bizarrement|mal|difficilement|tres vite)|\btout mou\b|\btoute molle\b"
        r"|(дивно|важко|погано|тяжело|странно) (дихає|дише|дышит)|\bмляв|\bвялый"
        r"|عجیبه ساه|ساه .{0,10}(گرانه|سخته)|عجیب نفس|نفس .{0,12}(عجیب|مشکل|سخت)|\bسست\b",
        None,
    ),
    (
        "medical",
        (
            r"\b(fell|fallen|collapsed|gevallen|tombee?|впав|впала|упал|упала|vpav|vpala"
            r"|ولوېد|لوېد|لوید|افتاد|aftad|ulwed)",
            r"(not (respond|react|moving|waking)|won ?t wake|reageert niet|beweegt niet"
            r"|wordt niet wakker|ne (reagit|repond|bouge)|reagit plus|repond plus|bouge plus"
            r"|не (реагу|відповіда|отвеча|рухає|двига)|ne (reahu|reagu|vidpovida)|غبرگون"
            r"|(هیچ )?جواب نمی|jawab nam"
            r"|نه ویښ|بیدار نمی|hosh)",
        ),
        None,
    ),
    # --- violence and threats ----------------------------------------------------------
    (
        "violence",
        r"\b(is|are|keeps|keep|he s|she s|they re|hes|shes|theyre) (hitting|beating|attacking"
        r"|choking|strangling|hurting|threatening) (me|us|her|him|my)"
        r"|\b(hits|beats|beat|hit|attacked|attacks|strangl\w*|chok\w*|threaten\w*) (me|us)\b"
        r"|\b(kill|murder|stab|shoot) (me|us|her|him|my)\b"
        r"|\b(being|been|got|get|was|were|am|is) (attacked|assaulted|beaten|stabbed|raped)"
        r"|\bwith a (knife|gun)|\bknife|\bgun\b|\braped?\b|\bsexual(ly)? (assault|abus)"
        r"|\bdomestic (violence|abuse)|\bbeaten up|\b(my|her|the) husband (hits|beats)|\bassault",
        _BACK_HOME,
    ),
    (
        "violence",
        r"\bslaat (mij|me|ons|haar|hem|mijn)|\bslaan (mij|me|ons|haar|hem|mijn)"
        r"|\bin elkaar (geslagen|slaan|getrapt|trappen)|\bslaan .{0,20}in elkaar|\bmishandel"
        r"|\baangevallen|\bvalt .{0,25}(mij|me|ons) aan|\baanval op (mij|me|ons)\b"
        r"|\bvalt (mij|me|ons) aan|\bbedreig|\bdreig\w* .{0,30}(dood|vermoord|mes)|\bvermoord"
        r"|\bdood ?maken|\bdoden\b|\b(een|het|zijn|haar|met) mes\b|\bmes (op|tegen)\b|\bmessen"
        r"|\bpistool|\bwapen|\bverkracht|\baangerand|\bkeel dicht|\bwurg|\bhuiselijk geweld"
        r"|\bgeweld",
        _BACK_HOME,
    ),
    (
        "violence",
        r"\b(me|nous|la|le|m) (frappe|bat|battre|tabass|agress|menac|etrangl)|\bfrapp|\btabass"
        r"|\b(m|nous|l) a (attaque|agresse|frappe|battu)"
        r"|\b(m|nous) ont (attaque|agresse|frappe|battu)|\b(de|a) (me|nous|la|le|les|l) tuer"
        r"|\b(va|veut|vont|veulent) (me|nous|la|le|les) tuer|\bmenace(s)? de mort|\bcouteau"
        r"|\barme\b|\bpistolet|\bviolee?\b|\bviol\b|\bagress|\bviolence|\bil me bat\b",
        _BACK_HOME,
    ),
    (
        "violence",
        r"\bбє\b|\bбють|\bбьет|\bбьёт|\bбьют|побив|побил|избил|напав|напал|погрож|угрожа"
        r"|(вбити|убити|убить|вбю|убю|вбʼ?ю|уб.ю) (мене|нас|її|його|меня|ее|его)"
        r"|(мене|нас|її|меня) (вбити|убити|убить|вб.?ють|уб.?ють)|зґвалт|згвалт|изнасил|насильств"
        r"|насили|ножем|\bніж\b|\bнож\b|vin mene bie|mene bie|mene pobyv|mene pobyl"
        r"|(lama|loma)(ie|ye|et) dver|pohrozh|ugroz|vbyty|ubyty|zgvalt"
        r"|nozhem",
        _BACK_HOME,
    ),
    (
        "violence",
        r"(ما|ماته|مې|می|مو|موږ|یې|یی) (وهی|وهي|ووهل|وهل)"
        r"|(مېړه|میړه|پلار|ورور|ملگری|ملگرې|خور|ښځه|زوی|لور|ماشوم|مور).{0,12}وهی"
        r"|گواښ (کوی|کړی|کوو)|گواښوی|ووژنی|وژنی|ووژنم|وژنم|د وژلو|\bبرید|جنسی تېری|جنسی تیری|تجاوز"
        r"|مری می|مرۍ مې|چاړه|چاقو|تومانچه|ټوپک|wahi\b|wahee|(ma|mata|ma ta) (gwakh|gwax)"
        r"|(gwakh|gwax) (kawi|kari)|wazhni|wajni|chaqu|chaku|chara lari|zor zabardasti"
        r"|(مرا|ما را|مارا|او را|اورا|ترا)( (?!طول)\S+)? (می ?زن|بزن|لت|می ?کش|بکش)|لت ?و ?کوب"
        r"|لت می ?کن|تهدید|کشتن\b|حمله|tahdid|koshtan|lat o kob|latokob|mara mezan|tajawoz",
        _BACK_HOME,
    ),
    (
        "violence",
        r"\b(вдарив|вдарила|вдарили|ударил|ударила|ударили|побила)\b|\b(вб|уб)ь?є\b|\bубьет"
        r"|\bубьют|\b(вб|уб)ють\b|ножом|ломится|ломиться|\bkidnap|\babduct|\bontvoerd"
        r"|\benleve|викра|похищ|lat (kad|kard|mekona|mikona)"
        r"|\b(me|mi|bo)kosh(am|an|a|and)?(et|at|i)?\b"
        r"|mara zad|mara mezan|(meera|mera|khawand|shohar\w*) .{0,12}(wahi|mezan)",
        _BACK_HOME,
    ),
    (
        "violence",
        r"\b(smuggler|passeur|smokkelaar|перевізник|перевозчик|контрабандист|قاچاقبر|قاچاق وړونک"
        r"|qachaqbar)\b.{0,40}(threat|menac|bedreig|погрож|угрож|گواښ|تهدید|tahdid|gwakh)"
        r"|\bthreaten\w* (my|our) (family|children|kids|wife|husband|son|daughter)"
        r"|\bmenace\w* (ma|mes|notre|nos) (famille|enfants|femme|mari)"
        r"|\bbedreig\w* (mijn|onze) (familie|kinderen|vrouw|man)|погрож\w* (моїй|моей|нашій)"
        r"|jinsi ?te?ray|\bzina ba zor",
        _BACK_HOME,
    ),
    # --- a child alone outside at night -------------------------------------------------
    ("child alone", (_CHILD, _STREET_AT_NIGHT), None),
    ("child missing", _CHILD_MISSING, _LONG_AGO_OR_TRACING),
    # --- trafficking, forced work, sexual exploitation ----------------------------------
    (
        "trafficking",
        r"\blocked (in|me|us|her)\b.{0,30}(house|room|flat|apartment|basement)"
        r"|\blocks? (me|us|the door)|\bcan ?n?o?t (get out|leave the (house|room|flat))"
        r"|\bheld (here|captive|against)|\btook my passport|\btaken my passport"
        r"|\b(force|forced|forcing|forces|make|makes|made|making) (me|us|her|him|them)"
        r" (to )?(work|sleep with|prostitut|have sex|sell)"
        r"|\bforced (to work|into)|\bprostitut|\btraffick|\b(sleep|sex) (with men )?for money",
        None,
    ),
    (
        "trafficking",
        r"\bopgesloten in (een|het|de|mijn|zijn) (huis|kamer|appartement|flat|kelder)"
        r"|\b(heeft|hebben|houdt|houden) (mij|me|ons) opgesloten|\bkan niet weg"
        r"|\bpaspoort (afgepakt|afgenomen|ingepikt|gestolen)"
        r"|\b(dwingen|dwingt|gedwongen) (mij|me|ons|haar)?|\bprostitutie|\bmensenhandel"
        r"|\blaten (mij|me|ons) werken|\bmet mannen slapen|\b(slapen|seks) voor geld"
        r"|\bwordt .{0,10}vastgehouden en"
        r"|\benferme\w* (dans|a) (un|une|la|le) (appartement|maison|chambre|cave)"
        r"|\b(m|nous) a enferme|\bne (peux|peut|peuvent) pas sortir"
        r"|\b(pris|confisque) (mon|son|nos) passeport"
        r"|\b(force|oblige)\w* (a|de) (travailler|me prostituer|coucher|avoir des relations)"
        r"|\b(m|me) (force|oblige)\w* a (travailler|me prostituer|coucher)|\bprostitu|\btraite des"
        r"|\bcoucher .{0,20}pour (de l )?argent",
        None,
    ),
    (
        "trafficking",
        r"зачинили|заперли|замкнули|не (можу|могу) (вийти|выйти)|забрали паспорт|паспорт забрали"
        r"|змушують|заставляют|примушують|проститу|торгівл\w* людьми|торговл\w* людьми|zachynyly"
        r"|zmushuiut|zabraly pasport|بند یم|بند کړی|نشم وتلی|پاسپورټ یی.{0,20}(اخیستی|اخستی)"
        r"|مجبور.{0,15}(کار|فحشا|فاحش|جنس)|(کار|فحشا).{0,15}مجبور|فحشا"
        r"|په زور.{0,20}(کار|فحشا|ویده|جنس)|قفل کرده|قفل کردند|زندانی کرده|نمی ?توانم بیرون"
        r"|پاسپورتم را گرفت|فاحشگی|تن ?فروشی|به زور.{0,20}(کار|فاحش|جنس|خواب)"
        r"|majb[ou]+r.{0,15}(kar|fahsh|fahish)|(pa|ba) zor.{0,20}(kar|fahsh)|qofl|band yam",
        None,
    ),
    (
        "trafficking",
        r"\b(won ?t|doesn ?t|does not|do not|don ?t|never) let (me|us|her|him) (leave|go out|out)"
        r"|\bnot allowed to (leave|go out)|\bmag .{0,25}niet (uit|buiten|weg)\b"
        r"|\blaat (mij|me|ons) niet (gaan|buiten|weg)|\bempech\w* (de )?sortir"
        r"|\binterdit de sortir|\bne me laisse pas sortir|\bне (випуска|выпуска|дозволя\w* вийти)"
        r"|نه پرېږدی|نه پریږدی|نمی ?(گذارد|ماند|مانه) .{0,20}بیرون|\bnamezara\b",
        None,
    ),
    (
        # Someone else keeps the passport, and the work is unpaid or leaving is threatened.
        "trafficking",
        (
            r"\b(keeps|kept|has|holds|took|takes|taken) (my|our|her|his) (passport|papers|id)"
            r"|\b(houdt|hield|heeft|pakte) (mijn|ons|haar|zijn) (paspoort|papieren)"
            r"|\b(garde|gardent|a pris|ont pris|confisque) (mon|notre|son) (passeport|papiers)"
            r"|(трима|трымает|держит|забрав|забрал)\w* (мій|мой|наш|її|ее) паспорт"
            r"|پاسپورټ\w* (زما|مې|می).{0,15}(ساتی|اخیستی)|پاسپورت(م| مرا| من).{0,15}(نگه|گرفته)"
            r"|(tabletk|pasport|passport|paspoort|passeport|pasaport)\w* .{0,20}(negah|satay)",
            r"\b(no money|not paid|without pay|no pay|no salary|geen geld|niet betaald|zonder loon"
            r"|pas paye|sans salaire|pas d argent|без грошей|без денег|не платит|не плат"
            r"|پیسې نه|پول نمی|پول نه|if i leave|als ik weg|si je pars|якщо я піду|если я уйду"
            r"|که لاړ شم|اگر بروم|kill|doden|tuer|вб|уб)",
        ),
        None,
    ),
    # --- explicit calls for emergency help ----------------------------------------------
    (
        "emergency",
        r"\bambulance|\b112\b|\bnoodgeval|\bnoodsituatie|(?<!\bd )(?<!\bde )\burgence\b|\bsamu\b"
        r"|\bemergency\b(?! (shelter|accommodation|housing|medical aid|aid|reception|number"
        r"|room|department))"
        r"|надзвичайн|امبولانس|ambulans",
        _NOT_AN_EMERGENCY,
    ),
    (
        "call for help",
        r"\bsos\b|\bcall (the )?police|\bpolice (now|quick|fast|asap)|\bbel (de )?politie"
        r"|\bpolitie bellen|\bau secours|\bappel(ez|er|le|lez) la police|\bpolice vite"
        r"|\bvite la police|виклич\w* поліці|вызовите полицию|поліці\w* (терміново|швидко)"
        r"|(допоможіть|помогите) (терміново|срочно)|(терміново|срочно) (допоможіть|помогите)"
        r"|pomogite srochno|dopomozhit terminovo"
        r"|پولیس (ژر|راولېږ|را ولېږ|را وغواړ|را روان|را زود|را خبر)|ژر پولیس"
        r"|پولیس را (زود|خبر|روان)|police ta zarurat|polis ra (zud|khabar)",
        _ARRESTED,
    ),
]


@dataclass(frozen=True)
class UrgentHit:
    category: str
    pattern: str


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(normalize_letters(pattern))


_COMPILED = [
    (
        category,
        tuple(_compile(p) for p in (rule if isinstance(rule, tuple) else (rule,))),
        _compile(unless) if unless else None,
    )
    for category, rule, unless in RULES
]


def find_urgent(text: str) -> UrgentHit | None:
    """The first rule that says ``text`` is an emergency, or None."""
    return find_urgent_normalized(normalize(text))


def find_urgent_normalized(normalized: str) -> UrgentHit | None:
    """``find_urgent`` for a text already passed through ``normalize``."""
    for category, patterns, unless in _COMPILED:
        found = [p.search(normalized) for p in patterns]
        if all(found) and not (unless and unless.search(normalized)):
            return UrgentHit(category, found[0].group(0) if found[0] else "")
    return None


# --- which kind of emergency: the answer gives that kind's specialised services ------

# Kinds that have their own answer (``knowledge/urgent.<kind>.yaml``); anything else
# gets the general urgent answer.
_KIND_OF_CATEGORY = {
    "suicide": "self_harm",
    "trafficking": "trafficking",
    "child alone": "child_alone",
}
_KIND_PATTERNS = [
    (
        "sexual_violence",
        r"\braped?\b|\brapist|\bsexual(ly)? (assault|abus|attack)|\bverkracht|\baangerand"
        r"|\bseksueel (geweld|misbruik)|\bviolee?\b|\bviol\b|\bviolences? sexuel|\babus sexuel"
        r"|зґвалт|згвалт|изнасил|сексуальн\w* насил|zgvalt|iznasil|تجاوز|جنسی تیری|جنسی تېری"
        r"|jinsi ?te?ray|zina ba zor|tajawoz",
    ),
    ("child_missing", _CHILD_MISSING),
    (
        "domestic_violence",
        r"\bdomestic (violence|abuse)|\bhuiselijk geweld|\bpartnergeweld|\bviolences? conjugal"
        r"|\bdomashn|домашн\w* насил|\b(my|her) (husband|wife|partner|boyfriend|ex)\b.{0,20}"
        r"\b(hits|beats|hit|beat|hurts|hurt|attacks|threatens|kicks|kicked)"
        r"|\b(mijn|haar) (man|vrouw|partner|ex|vriend)\b.{0,20}"
        r"\b(slaat|sloeg|schopt|bedreigt|mishandelt)"
        r"|\b(mon|son) (mari|ex|copain|compagnon|conjoint)\b.{0,20}"
        r"\b(me|la|nous) (frappe|bat|menace)|\bil me bat\b"
        r"|(чоловік|муж|партнер)\w*.{0,20}(б.?є|бьет|бьёт|побив|побил|вдарив|ударил|погрожу|угрожа)"
        r"|(مېړه|میړه|خاوند).{0,20}(وهی|ووهل|گواښ)|(شوهر|شوهرم).{0,20}(می ?زن|لت|زد|تهدید)"
        r"|(meera|mera|khawand|shohar\w*) .{0,12}(wahi|mezan|mizana|lat)",
    ),
]
_COMPILED_KINDS = [(kind, _compile(pattern)) for kind, pattern in _KIND_PATTERNS]
KIND_PATTERNS = tuple(_KIND_PATTERNS)  # to read (the console's urgent rules page)


def urgent_kind(normalized: str, hit: UrgentHit | None) -> str | None:
    """The kind of emergency in a message already found urgent (by the rule ``hit``, or by
    the classifier: ``hit`` None), for its specialised answer: ``self_harm``, ``sexual_violence``,
    ``trafficking``, ``child_missing``, ``child_alone``, ``domestic_violence``; None for
    the general answer (a medical emergency, other violence, a call for help)."""
    if hit is not None and hit.category in ("suicide", "trafficking"):
        return _KIND_OF_CATEGORY[hit.category]
    for kind, pattern in _COMPILED_KINDS:
        if pattern.search(normalized):
            return kind
    return _KIND_OF_CATEGORY.get(hit.category) if hit is not None else None


# --- at risk, not an emergency: staff priority without the emergency answer ----------

# An adult with nowhere to sleep (tonight, in the street, at the station): the reception
# answer, not "call 112", and staff see the conversation first.
_SLEEPING_OUTSIDE = (
    r"\b(nowhere|no where|no place|no bed) to (sleep|stay)|\bsleep(ing)? (outside|in the street"
    r"|on the street|at the station|in (a|the) park|rough)|\bslept (outside|in the street"
    r"|at the station)|\b(on|in) the street (tonight|since)"
    r"|\bnergens (om )?te slapen|\bgeen (slaapplaats|slaapplek|bed)\b|\bslaap\w* (buiten"
    r"|op straat|in het station|in (het|een) park)|\bop straat (slapen|geslapen|vannacht)"
    r"|\b(dors|dormir|dormi|dort|dorment) (dehors|dans la rue|a la gare|au parc)"
    r"|\bnulle part (ou|pour) dormir|\bpas (d endroit|de place|de lit) pour dormir|\bsans abri"
    r"|ніде (спати|ночувати)|негде (спать|ночевать)|ночу\w* на (вулиці|улице|вокзалі|вокзале)"
    r"|сплю на (вулиці|улице|вокзалі|вокзале)|nide (spaty|nochuvaty)|na vulytsi"
    r"|د (خوب|اوسېدو|اوسیدو) ځای نه|په سړک (کې|کی) (ویده|خوب|شپه)|په (سړک|سرک) کې اوسېږم"
    r"|جای (خواب|خوابیدن|ماندن) ندار|در (سرک|جاده|پارک|ستیشن) (خواب|می ?خواب|شب)"
    r"|da khob zay nishta|pa sarak ke (weeda|wida|khob)|jay(e)? khab nadar|dar sarak (khab|mekhab)"
)
_COMPILED_AT_RISK = _compile(_SLEEPING_OUTSIDE)


def find_at_risk_normalized(normalized: str) -> bool:
    """Someone with nowhere to sleep: a priority for staff, not an emergency answer."""
    return bool(_COMPILED_AT_RISK.search(normalized))
