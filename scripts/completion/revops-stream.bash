# bash completion for revops-stream; `make install` puts it in
# $(PREFIX)/share/bash-completion/completions/revops-stream. Standalone:
# it needs no helper from the bash-completion package.

_revops_stream()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local sub=generate
    case ${COMP_WORDS[1]:-} in
        generate | plan | merge | validate | split) sub=${COMP_WORDS[1]} ;;
    esac

    # Values of the option before the word.
    case $prev in
        -o | --settings | --plan)
            compopt -o filenames 2>/dev/null
            mapfile -t COMPREPLY < <(compgen -f -- "$cur")
            return
            ;;
        --vocab)
            compopt -o filenames 2>/dev/null
            mapfile -t COMPREPLY < <(compgen -d -- "$cur")
            return
            ;;
        --types)
            # A comma-separated list: complete its last item.
            local done_part=${cur%"${cur##*,}"} t
            COMPREPLY=()
            for t in territory rep account opportunity opportunity_history; do
                [[ $done_part$t == "$cur"* ]] && COMPREPLY+=("$done_part$t")
            done
            compopt -o nospace 2>/dev/null
            return
            ;;
        --compress)
            mapfile -t COMPREPLY < <(compgen -W 'zstd zstd:1 zstd:3 zstd:9 zstd:19' -- "$cur")
            return
            ;;
        --output | --listen)
            mapfile -t COMPREPLY < <(compgen -W 'tcp:// unix:' -- "$cur")
            compopt -o nospace 2>/dev/null
            return
            ;;
        --as-of | --generated-at | --seed | --reps | --accounts | --opportunities | --set | \
            --shard | -j | --threads | --connect-timeout | --max-clients | --rate | --memory)
            COMPREPLY=()
            return
            ;;
    esac

    local opts
    case $sub in
        generate)
            opts='--seed --reps --accounts --opportunities --as-of --generated-at --set --settings
                  --vocab --types --shard --plan -j --threads -o --compress --output --connect-timeout
                  --listen --max-clients --once --kafka-key --rate --progress --quiet -h --help --version'
            ;;
        plan) opts='--seed --reps --accounts --opportunities --as-of --set --settings --vocab -j --threads
                    -o -h --help --version' ;;
        merge) opts='-o --compact --memory --generated-at --no-validate --lenient --seed --reps --accounts
                      --opportunities --as-of --set --settings --vocab -h --help' ;;
        validate)
            opts='--seed --reps --accounts --opportunities --as-of --set --settings --vocab
                  --lenient -h --help'
            ;;
        split) opts='-o -h --help' ;;
    esac
    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
    elif [[ $COMP_CWORD == 1 ]]; then
        mapfile -t COMPREPLY < <(compgen -W 'generate plan merge validate split' -- "$cur")
    elif [[ $sub != generate && $sub != plan ]]; then
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
    else
        COMPREPLY=()
    fi
}
complete -F _revops_stream revops-stream
