"""Japanese sentence banks from which the simulated articles are assembled.

On-topic stories (Russia–North Korea military cooperation) always name Russia, North Korea and a military
term in the title and in the lead; off-topic stories come from unrelated desks and never mention Russia or
North Korea at all (`FORBIDDEN_OFF_TOPIC` is checked when the site is built).  Slots such as `{src}` are
filled from small word lists so that no two stories share the same sentences verbatim.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

FORBIDDEN_OFF_TOPIC = ("ロシア", "露", "北朝鮮", "朝鮮", "平壌", "金正恩", "正恩", "プーチン", "モスクワ")


@dataclass(frozen=True)
class Desk:
    """A news desk: what its stories are about and how each outlet files them."""

    name: str
    jiji_genre: str  # g= parameter of jiji URLs
    jiji_section: str  # JSON-LD articleSection on jiji (Japanese)
    asahi_section: str  # JSON-LD articleSection on asahi (English)
    asahi_category: str  # cXenseParse:ash-category
    asahi_subcategory: str
    keywords: tuple[str, ...]
    titles: tuple[str, ...]
    leads: tuple[str, ...]
    sentences: tuple[str, ...]


SLOTS: dict[str, tuple[str, ...]] = {
    "src": (
        "韓国軍合同参謀本部",
        "韓国国家情報院",
        "米国防総省",
        "日本政府関係者",
        "ウクライナ軍情報総局",
        "米シンクタンク",
    ),
    "port": ("羅津港", "清津港", "南浦港"),
    "pref": (
        "北海道",
        "宮城県",
        "新潟県",
        "静岡県",
        "愛知県",
        "大阪府",
        "広島県",
        "高知県",
        "福岡県",
        "沖縄県",
    ),
    "city": ("札幌市", "仙台市", "金沢市", "名古屋市", "神戸市", "岡山市", "松山市", "熊本市", "那覇市"),
    "company": ("大手電機メーカー", "大手商社", "大手銀行", "自動車大手", "大手通信会社", "大手化学メーカー"),
    "team": ("阪神", "巨人", "ソフトバンク", "日本ハム", "広島", "楽天"),
    "player": ("坂本", "宇野", "佐藤", "中村", "石川", "大橋"),
    "school": ("横浜", "智弁和歌山", "大阪桐蔭", "仙台育英", "健大高崎", "明徳義塾"),
    "party": ("自民党", "立憲民主党", "日本維新の会", "国民民主党", "公明党"),
}

ON_TOPIC = Desk(
    name="russia-dprk",
    jiji_genre="int",
    jiji_section="国際",
    asahi_section="International",
    asahi_category="国際",
    asahi_subcategory="アジア・太平洋",
    keywords=("ロシア", "北朝鮮", "軍事協力", "ウクライナ侵攻"),
    titles=(
        "露朝が軍事協力拡大で合意　北朝鮮、弾薬の追加供与か",
        "北朝鮮兵、ロシア西部に追加派兵か　{src}が分析",
        "金正恩氏、ロシア国防相と会談　軍事協力の強化確認",
        "ロシアへの弾薬輸送続く　北朝鮮の{port}で貨物船確認",
        "北朝鮮、ロシアの技術でミサイル改良か　{src}が指摘",
        "露朝、合同軍事演習を計画　平壌で実務協議",
        "ロシア外相が平壌訪問　北朝鮮と軍事協力で一致",
        "北朝鮮の派兵、{n}万人規模に　ロシア西部の戦線に投入",
        "露朝条約発効から{n}カ月　北朝鮮のミサイル供与拡大",
        "ロシア軍艦が北朝鮮に寄港　軍事協力を誇示",
        "北朝鮮製砲弾、ロシア軍の主力に　{src}が報告書",
        "金正恩氏が弾薬工場視察　ロシア向け増産を指示か",
    ),
    leads=(
        "{src}は{d}日、北朝鮮がロシアに対し砲弾やミサイルなどの弾薬を追加で供与した可能性が高いとの分析を明らかにした。",
        "北朝鮮の金正恩朝鮮労働党総書記は{d}日、平壌を訪れたロシアの代表団と会談し、両国の軍事協力をさらに強化する方針を確認した。",
        "{src}によると、北朝鮮はロシア西部の戦線に兵士を派遣しており、その規模は{n}万人を超えるとみられる。",
        "ロシアと北朝鮮は{d}日、包括的戦略パートナーシップ条約に基づく軍事協力の一環として、合同軍事演習の実施に向けた協議を平壌で行った。",
    ),
    sentences=(
        "北朝鮮の{port}では、コンテナを積み込む貨物船の出入りが衛星写真で確認されている。",
        "ロシア側は見返りとして、食料やエネルギーのほか軍事技術を提供しているとの見方が出ている。",
        "韓国政府は、露朝の軍事協力が朝鮮半島の安全保障を脅かすとして強い懸念を表明した。",
        "日米韓の外相は電話で協議し、北朝鮮とロシアの武器取引は国連安全保障理事会の決議違反だと非難した。",
        "北朝鮮の兵士はロシア軍の部隊に組み込まれ、前線で戦闘に参加しているとされる。",
        "専門家は、実戦経験を得た北朝鮮軍がミサイルの精度を高める恐れがあると指摘する。",
        "ロシア大統領府の報道官は、北朝鮮との協力は国際法に反しないと主張した。",
        "北朝鮮の朝鮮中央通信は、両国の友好関係が新たな段階に入ったと伝えた。",
        "{src}は、これまでに北朝鮮からロシアへ運ばれた砲弾が数百万発に上ると推計している。",
        "ウクライナ軍は、戦場で回収した弾道ミサイルの残骸から北朝鮮製の部品が見つかったと発表した。",
        "平壌では{d}日、ロシアの軍事代表団を歓迎する行事が開かれた。",
        "北朝鮮はロシアから防空システムや戦闘機の技術供与を受けることを期待しているとみられる。",
        "日本政府は関係国と連携し、露朝の軍事協力の動向を注視していく考えだ。",
        "派兵された北朝鮮兵の一部はウクライナ軍の捕虜となり、尋問に応じているという。",
        "両国は昨年、有事の相互援助を定めた条約に署名し、軍事同盟に近い関係となった。",
        "国連の専門家パネルが活動を終えたことで、制裁違反の監視は難しくなっている。",
        "ロシアの国防相は平壌で金正恩総書記と会い、軍事技術分野での協力拡大を話し合った。",
        "米国務省の報道官は、北朝鮮の派兵は戦争を長期化させるだけだと批判した。",
    ),
)

OFF_TOPIC: tuple[Desk, ...] = (
    Desk(
        name="economy",
        jiji_genre="eco",
        jiji_section="経済",
        asahi_section="Business",
        asahi_category="経済",
        asahi_subcategory="経済政策",
        keywords=("経済", "株価", "賃上げ"),
        titles=(
            "日経平均、{n}00円超の上昇　半導体株に買い",
            "{company}、純利益{n}割増　通期予想を上方修正",
            "春闘、賃上げ率{n}％台に　連合の第{d}回集計",
            "円相場、1ドル＝14{n}円台に上昇　米金利低下で",
            "{pref}の中小企業、価格転嫁進まず　民間調査",
            "コメ価格の高止まり続く　政府備蓄米の放出を検討",
        ),
        leads=(
            "{d}日の東京株式市場で日経平均株価は大幅に反発し、終値は前日比{n}00円余り高い水準となった。",
            "{company}は{d}日、今期の連結純利益が前期比で{n}割程度増えるとの見通しを発表した。",
            "連合は{d}日、今年の春闘の回答集計を公表し、平均賃上げ率は前年を上回る水準を維持した。",
        ),
        sentences=(
            "市場関係者の間では、米国の利下げ観測が追い風になったとの見方が広がった。",
            "輸出関連株を中心に買い戻しが入り、取引時間中の高値を更新する場面もあった。",
            "同社は海外事業の好調に加え、円安による為替差益が利益を押し上げたと説明した。",
            "中小企業では人手不足を背景に、賃上げに踏み切る動きが広がっている。",
            "一方で、原材料価格の高騰を販売価格に転嫁できない企業も少なくない。",
            "政府は物価上昇を上回る賃上げの定着を目指し、価格転嫁の環境整備を進める方針だ。",
            "経済産業省は、取引先との価格交渉の状況を業種ごとに調べる考えだ。",
            "日銀の植田和男総裁は記者会見で、賃金と物価の好循環が強まりつつあると述べた。",
            "外国為替市場では、日米の金利差縮小を見込んだ円買いが続いた。",
            "アナリストは「企業業績は底堅く、株価の下値は限られる」と分析している。",
            "家計の節約志向は根強く、小売り各社は値下げや増量で対抗している。",
            "{city}の商工会議所は、地元企業の経営相談窓口を拡充すると発表した。",
        ),
    ),
    Desk(
        name="weather",
        jiji_genre="soc",
        jiji_section="社会",
        asahi_section="National",
        asahi_category="社会",
        asahi_subcategory="災害・気象",
        keywords=("気象", "天気", "交通"),
        titles=(
            "{pref}で春の嵐　交通機関に乱れ",
            "桜の開花、{city}で平年より{n}日早く",
            "{pref}で震度{n}の地震　津波の心配なし",
            "花粉の飛散ピーク　{pref}で「非常に多い」",
            "{pref}の高速道路で多重事故　{n}人けが",
            "季節外れの暑さ、{city}で夏日に",
        ),
        leads=(
            "気象庁は{d}日、{city}で桜が開花したと発表した。平年より{n}日早く、昨年より2日遅い。",
            "発達した低気圧の影響で、{pref}では{d}日、強い風が吹き荒れ、鉄道の運休が相次いだ。",
            "{d}日午前、{pref}で震度{n}を観測する地震があった。気象庁によると、津波の心配はないという。",
        ),
        sentences=(
            "気象庁は、落雷や突風、急な強い雨に注意するよう呼びかけている。",
            "JRや私鉄の一部路線では、始発から運転を見合わせる区間が出た。",
            "空の便にも影響が広がり、欠航や遅延が相次いだ。",
            "各地の公園では、見頃を待ちわびた人たちが早くも花見を楽しんでいた。",
            "県警によると、事故は片側2車線の下り線で起き、乗用車など5台が絡んだ。",
            "消防によると、けがをした人はいずれも意識があり、命に別条はないという。",
            "週末にかけては高気圧に覆われ、全国的に晴れる見込みだ。",
            "環境省は、花粉の飛散量が例年より多いとして対策を呼びかけている。",
            "{city}では最高気温が25度を超え、半袖で歩く人の姿も見られた。",
            "市は臨時の相談窓口を設け、住民からの問い合わせに対応している。",
            "専門家は「日頃から避難経路や備蓄品を確認してほしい」と話す。",
            "この影響で、高速道路の一部区間が通行止めとなった。",
        ),
    ),
    Desk(
        name="sports",
        jiji_genre="spo",
        jiji_section="スポーツ",
        asahi_section="Sports",
        asahi_category="スポーツ",
        asahi_subcategory="野球",
        keywords=("スポーツ", "野球", "大相撲"),
        titles=(
            "{team}、オープン戦で逆転勝ち　新人が決勝打",
            "大相撲春場所、大関が{n}連勝　単独トップ守る",
            "{player}が世界選手権で銀メダル　日本勢最高",
            "センバツ高校野球、{school}が初戦突破",
            "フィギュア世界選手権、{player}がＳＰ首位",
            "Ｊリーグ、首位攻防は引き分け　{n}万人が観戦",
        ),
        leads=(
            "プロ野球のオープン戦が{d}日、各地で行われ、{team}は終盤に逆転して勝利を収めた。",
            "大相撲春場所は{d}日目の取組が大阪市のエディオンアリーナ大阪で行われ、大関は危なげない相撲で白星を重ねた。",
            "第97回選抜高校野球大会は{d}日、阪神甲子園球場で試合が行われ、{school}が初戦を突破した。",
        ),
        sentences=(
            "八回に代打で起用された新人が、左中間を破る適時二塁打を放った。",
            "先発投手は六回を無失点に抑え、開幕ローテーション入りへ前進した。",
            "監督は「若い選手が結果を出してくれた。競争が激しくなる」と話した。",
            "立ち合いから一気に前に出て、相手に何もさせなかった。",
            "館内には満員の観客が詰めかけ、大きな拍手が送られた。",
            "{player}は「悔しさもあるが、次につながる演技ができた」と振り返った。",
            "チームは今季、若手の育成と守備力の強化を課題に掲げている。",
            "エースは九回を投げきり、被安打4で完封した。",
            "次戦は{d}日に予定されており、優勝候補との対戦となる。",
            "会場となった{city}の競技場には、{n}万人を超えるファンが集まった。",
            "ベテランは「体の状態は良い。開幕に向けて調整を続けたい」と語った。",
            "新監督の下で、チームは攻撃的なスタイルへの転換を進めている。",
        ),
    ),
    Desk(
        name="politics",
        jiji_genre="pol",
        jiji_section="政治",
        asahi_section="Politics",
        asahi_category="政治",
        asahi_subcategory="国内政治",
        keywords=("政治", "国会", "予算"),
        titles=(
            "新年度予算案、衆院を通過　年度内成立の見通し",
            "首相、{pref}の被災地を視察　復興支援を約束",
            "{party}、参院選公約の骨子案まとめる",
            "選択的夫婦別姓、{party}が議論を本格化",
            "高校授業料の無償化、与野党が大筋合意",
            "{pref}知事選、現職が{n}選出馬を表明",
        ),
        leads=(
            "新年度予算案は{d}日の衆院本会議で、与党などの賛成多数により可決され、参院に送付された。",
            "石破茂首相は{d}日、{pref}を訪れ、地震で被害を受けた地域の復旧状況を視察した。",
            "{party}は{d}日、夏の参院選に向けた公約の骨子案を党の会合で示した。",
        ),
        sentences=(
            "憲法の規定により、予算案は参院で議決されなくても年度内に自然成立する。",
            "野党側は審議が不十分だとして反対したが、採決は予定通り行われた。",
            "首相は記者団に「被災者の生活再建に全力を挙げる」と強調した。",
            "骨子案には、物価高対策や子育て支援の拡充が盛り込まれた。",
            "党内には慎重論も根強く、意見集約には時間がかかりそうだ。",
            "与党は少数与党の下で、野党の協力を得ながら政権運営を続けている。",
            "官房長官は記者会見で、関係省庁と連携して対応する考えを示した。",
            "{city}で開かれた集会には、支持者ら約{n}00人が集まった。",
            "世論調査では、内閣支持率は横ばいの水準にとどまっている。",
            "参院選は7月に予定され、各党は候補者の擁立作業を急いでいる。",
            "知事は「県政の課題に引き続き取り組みたい」と述べた。",
            "委員会では、政治資金の透明性をめぐる議論も続いた。",
        ),
    ),
)

# The short jiji flash item: one paragraph of about 80 characters.
FLASH_TITLE = "【速報】北朝鮮、ロシアへ追加派兵か　{src}"
FLASH_TEXT = (
    "{src}は{d}日、北朝鮮がロシアに兵士数千人を追加で派遣したとの見方を示した。"
    "弾薬やミサイルの供与も続いているとみられ、軍事協力の拡大に警戒を強めている。"
)

# Characters that exist in cp932 but not in plain Shift_JIS tables: the Shift_JIS pages must carry them.
CP932_SENTENCE = (
    "発表資料は①日程②規模③費用の3点を挙げ、実施期間は10日～15日、運営は㈱みらい総研が担うとしている。"
)

REPORTERS: tuple[tuple[str, str], ...] = (
    ("佐藤健太", "国際報道部"),
    ("鈴木美穂", "ソウル支局"),
    ("高橋直樹", "経済部"),
    ("田中彩", "東京社会部"),
    ("伊藤大輔", "スポーツ部"),
    ("山本晃", "政治部"),
    ("中村梓", "大阪社会部"),
    ("小林誠", "ヨーロッパ総局"),
    ("加藤里奈", "くらし報道部"),
)


def fill(template: str, rng: random.Random, day: int) -> str:
    """Fill every `{slot}` of a sentence; `{d}` is the story's day of month, `{n}` a small number."""
    values = {key: rng.choice(options) for key, options in SLOTS.items()}
    values["d"] = str(day)
    values["n"] = str(rng.randint(2, 9))
    return template.format(**values)


def to_fullwidth_digits(text: str) -> str:
    """Jiji writes numbers in full-width digits (１７日); Asahi uses ASCII digits."""
    return text.translate(str.maketrans("0123456789", "０１２３４５６７８９"))


def compose_body(desk: Desk, rng: random.Random, day: int, lead: str) -> list[str]:
    """4-8 paragraphs, 300-900 characters, lead first, no sentence used twice in one story."""
    pool = list(desk.sentences)
    rng.shuffle(pool)
    paragraphs = [[lead]]
    for _ in range(rng.randint(3, 7)):
        paragraphs.append([fill(pool.pop(), rng, day)])
    while sum(len(s) for p in paragraphs for s in p) < 320 and pool:
        rng.choice(paragraphs[1:]).append(fill(pool.pop(), rng, day))
    while sum(len(s) for p in paragraphs for s in p) > 880:
        longest = max(paragraphs[1:], key=len)
        if len(longest) > 1:
            longest.pop()
        else:
            paragraphs.pop()
    return ["".join(p) for p in paragraphs]
