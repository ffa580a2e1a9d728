/* Built-in vocabularies, in the same one-token-a-line text form as the files
 * that --vocab reads, so both go through one loader. */
#include "vocab.h"

const char rs_builtin_first_names[] =
    "James\nMary\nRobert\nPatricia\nJohn\nJennifer\nMichael\nLinda\nDavid\nElizabeth\nWilliam\nBarbara\n"
    "Richard\nSusan\nJoseph\nJessica\nThomas\nSarah\nCharles\nKaren\nChristopher\nLisa\nDaniel\nNancy\n"
    "Matthew\nBetty\nAnthony\nSandra\nMark\nMargaret\nDonald\nAshley\nSteven\nKimberly\nAndrew\nEmily\n"
    "Paul\nDonna\nJoshua\nMichelle\nKenneth\nCarol\nKevin\nAmanda\nBrian\nMelissa\nGeorge\nDeborah\n"
    "Timothy\nStephanie\nRonald\nDorothy\nJason\nRebecca\nEdward\nSharon\nJeffrey\nLaura\nRyan\nCynthia\n"
    "Jacob\nAmy\nGary\nKathleen\nNicholas\nAngela\nEric\nShirley\nJonathan\nBrenda\nStephen\nEmma\n"
    "Larry\nAnna\nJustin\nPamela\nScott\nNicole\nBrandon\nSamantha\nBenjamin\nKatherine\nSamuel\nChristine\n"
    "Gregory\nHelen\nAlexander\nDebra\nPatrick\nRachel\nFrank\nCarolyn\nRaymond\nJanet\nJack\nMaria\n"
    "Dennis\nCatherine\nJerry\nHeather\nTyler\nDiane\nAaron\nOlivia\nJose\nJulie\nAdam\nJoyce\n"
    "Nathan\nVictoria\nHenry\nRuth\nZachary\nVirginia\nDouglas\nLauren\nPeter\nKelly\nKyle\nChristina\n"
    "Noah\nJoan\nEthan\nEvelyn\nJeremy\nJudith\nWalter\nAndrea\nChristian\nHannah\nKeith\nMegan\n"
    "Roger\nCheryl\nTerry\nJacqueline\nAustin\nMartha\nSean\nMadison\nGerald\nTeresa\nCarl\nGloria\n"
    "Harold\nSara\nDylan\nJanice\nArthur\nAnn\nLawrence\nKathryn\nJordan\nAbigail\nJesse\nSophia\n"
    "Bryan\nFrances\nBilly\nJean\nBruce\nAlice\nGabriel\nJudy\nJoe\nIsabella\nLogan\nJulia\n"
    "Priya\nWei\nAisha\nCarlos\nMei\nDiego\nFatima\nHiroshi\nIngrid\nKwame\nLeila\nMateo\n";

const char rs_builtin_last_names[] =
    "Smith\nJohnson\nWilliams\nBrown\nJones\nGarcia\nMiller\nDavis\nRodriguez\nMartinez\nHernandez\nLopez\n"
    "Gonzalez\nWilson\nAnderson\nThomas\nTaylor\nMoore\nJackson\nMartin\nLee\nPerez\nThompson\nWhite\n"
    "Harris\nSanchez\nClark\nRamirez\nLewis\nRobinson\nWalker\nYoung\nAllen\nKing\nWright\nScott\n"
    "Torres\nNguyen\nHill\nFlores\nGreen\nAdams\nNelson\nBaker\nHall\nRivera\nCampbell\nMitchell\n"
    "Carter\nRoberts\nGomez\nPhillips\nEvans\nTurner\nDiaz\nParker\nCruz\nEdwards\nCollins\nReyes\n"
    "Stewart\nMorris\nMorales\nMurphy\nCook\nRogers\nGutierrez\nOrtiz\nMorgan\nCooper\nPeterson\nBailey\n"
    "Reed\nKelly\nHoward\nRamos\nKim\nCox\nWard\nRichardson\nWatson\nBrooks\nChavez\nWood\n"
    "James\nBennett\nGray\nMendoza\nRuiz\nHughes\nPrice\nAlvarez\nCastillo\nSanders\nPatel\nMyers\n"
    "Long\nRoss\nFoster\nJimenez\nPowell\nJenkins\nPerry\nRussell\nSullivan\nBell\nColeman\nButler\n"
    "Henderson\nBarnes\nGonzales\nFisher\nVasquez\nSimmons\nRomero\nJordan\nPatterson\nAlexander\nHamilton\nGraham\n"
    "Reynolds\nGriffin\nWallace\nMoreno\nWest\nCole\nHayes\nBryant\nHerrera\nGibson\nEllis\nTran\n"
    "Medina\nAguilar\nStevens\nMurray\nFord\nCastro\nMarshall\nOwens\nHarrison\nFernandez\nMcDonald\nWoods\n"
    "Washington\nKennedy\nWells\nVargas\nHenry\nChen\nFreeman\nWebb\nTucker\nGuzman\nBurns\nCrawford\n"
    "Olson\nSimpson\nPorter\nHunter\nGordon\nMendez\nSilva\nShaw\nSnyder\nMason\nDixon\nMunoz\n"
    "Hunt\nHicks\nHolmes\nPalmer\nWagner\nBlack\nRobertson\nBoyd\nRose\nStone\nSalazar\nFox\n"
    "Okafor\nYamamoto\nSingh\nKowalski\nLindqvist\nOkonkwo\nNakamura\nSchmidt\nRossi\nDubois\nIvanova\nHaddad\n";

const char rs_builtin_nouns[] =
    "Acme\nApex\nSummit\nVertex\nHorizon\nPinnacle\nBeacon\nHarbor\nMeridian\nNorthstar\nBluebird\nRedwood\n"
    "Granite\nCobalt\nQuartz\nOnyx\nFalcon\nOsprey\nKestrel\nHeron\nOrchid\nJuniper\nCedar\nMaple\n"
    "Willow\nAspen\nBirch\nSequoia\nCypress\nLaurel\nAtlas\nTitan\nOrion\nVega\nLyra\nNova\n"
    "Comet\nNebula\nPulsar\nQuasar\nZenith\nNadir\nEquinox\nSolstice\nMonsoon\nTundra\nPrairie\nMesa\n"
    "Canyon\nDelta\nFjord\nGlacier\nLagoon\nRiver\nBrook\nCascade\nRapids\nTide\nCoral\nReef\n"
    "Anchor\nCompass\nLantern\nLighthouse\nKeystone\nCornerstone\nBedrock\nBridge\nGateway\nPortal\nArch\nTower\n"
    "Citadel\nBastion\nHaven\nOasis\nEmber\nSpark\nFlint\nForge\nAnvil\nHammer\nChisel\nLoom\n"
    "Spindle\nShuttle\nPiston\nTurbine\nDynamo\nCircuit\nSignal\nVector\nMatrix\nTensor\nPrism\nLens\n"
    "Mirror\nHalo\nAurora\nCrescent\nEclipse\nMeteor\nStellar\nCosmos\nGalaxy\nOrbit\nRocket\nShuttlecraft\n"
    "Voyager\nPioneer\nExplorer\nRanger\nScout\nTracker\nPathfinder\nTrailhead\nSignpost\nMilestone\nLandmark\nBlueprint\n"
    "Catalyst\nElement\nIsotope\nNeutron\nPhoton\nElectron\nIon\nPlasma\nFusion\nFission\nQuantum\nHelix\n"
    "Genome\nSpectrum\nFrequency\nAmplitude\nHarmonic\nCadence\nTempo\nRhythm\nMelody\nChorus\nSonata\nAnthem\n"
    "Saffron\nIndigo\nCrimson\nScarlet\nAzure\nCerulean\nAmber\nIvory\nEbony\nJade\nTopaz\nGarnet\n"
    "Sapphire\nEmerald\nRuby\nOpal\nPearl\nAgate\nBeryl\nJasper\nObsidian\nPumice\nBasalt\nSlate\n"
    "Lynx\nPuma\nJaguar\nBison\nMoose\nElk\nOtter\nBadger\nBeaver\nMarten\nWolverine\nCondor\n"
    "Pelican\nAlbatross\nCormorant\nPuffin\nRaven\nMagpie\nSparrow\nFinch\nWren\nLark\nSwift\nMerlin\n";

const char rs_builtin_suffixes[] =
    "Inc\nLLC\nCorp\nGroup\nHoldings\nLabs\nSystems\nTechnologies\nSolutions\nPartners\nIndustries\nWorks\n"
    "Networks\nDynamics\nVentures\nEnterprises\nAnalytics\nSoftware\nLogistics\nCo\nInternational\nCollective\n";

const char rs_builtin_industries[] =
    "Natural Resources and Mining\nConstruction\nManufacturing\nTrade, Transportation, and Utilities\n"
    "Information\nFinancial Activities\nProfessional and Business Services\nEducation and Health Services\n"
    "Leisure and Hospitality\nOther Services (except Public Administration)\n";

const char rs_builtin_stages[] = "0 - New Opportunity\n1 - Qualification\n2 - Discovery\n3 - Solutioning\n"
                                 "4 - Proposal\n5 - Negotiation\n6 - Awaiting Signature\n7 - Closed Won\n";

/* The four US Census regions with their states and DC. */
const char rs_builtin_regions[] =
    "{\"CT\": \"Northeast\", \"ME\": \"Northeast\", \"MA\": \"Northeast\", \"NH\": \"Northeast\","
    " \"RI\": \"Northeast\", \"VT\": \"Northeast\", \"NJ\": \"Northeast\", \"NY\": \"Northeast\","
    " \"PA\": \"Northeast\","
    " \"IL\": \"Midwest\", \"IN\": \"Midwest\", \"MI\": \"Midwest\", \"OH\": \"Midwest\", \"WI\": \"Midwest\","
    " \"IA\": \"Midwest\", \"KS\": \"Midwest\", \"MN\": \"Midwest\", \"MO\": \"Midwest\", \"NE\": \"Midwest\","
    " \"ND\": \"Midwest\", \"SD\": \"Midwest\","
    " \"DE\": \"South\", \"DC\": \"South\", \"FL\": \"South\", \"GA\": \"South\", \"MD\": \"South\","
    " \"NC\": \"South\", \"SC\": \"South\", \"VA\": \"South\", \"WV\": \"South\", \"AL\": \"South\","
    " \"KY\": \"South\", \"MS\": \"South\", \"TN\": \"South\", \"AR\": \"South\", \"LA\": \"South\","
    " \"OK\": \"South\", \"TX\": \"South\","
    " \"AZ\": \"West\", \"CO\": \"West\", \"ID\": \"West\", \"MT\": \"West\", \"NV\": \"West\", \"NM\": \"West\","
    " \"UT\": \"West\", \"WY\": \"West\", \"AK\": \"West\", \"CA\": \"West\", \"HI\": \"West\", \"OR\": \"West\","
    " \"WA\": \"West\"}";
